package exposition

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

type fixedStream struct{}

func (fixedStream) Connected() bool    { return true }
func (fixedStream) Reconnects() uint64 { return 0 }

// TestExactLEStrings: bounds whose shortest 'g' formatting differs from the
// relay's "le" text (1e+06 against 1000000) are shown as the relay wrote
// them; nothing else in the output changes.
func TestExactLEStrings(t *testing.T) {
	st := state.New(0)
	odd := hist("buzz_odd_bytes", []string{"0.00001", "0.50", "1000", "1000000"}, []string{"v"},
		[]string{`x",le="1e+06"}`}, []uint64{1, 2, 3, 4}, 7)
	odd.Help = `help mentions ,le="1e+06"} verbatim`
	odd.Series = append(odd.Series, &metricsv1.Series{LabelValues: []string{"plain"}, BucketCounts: []uint64{0, 0, 1, 1}, Count: 1, Sum: 900})
	bare := hist("buzz_odd_bare", []string{"2000000"}, nil, nil, []uint64{5}, 1)
	normal := hist("buzz_event_processing_seconds", []string{"0.001", "0.5", "1", "5"}, nil, nil, []uint64{1, 1, 1, 1}, 0.0005)
	st.Apply(&metricsv1.StreamResponse{Process: &metricsv1.Process{InstanceId: "r"}, Full: true,
		Families: []*metricsv1.MetricFamily{odd, bare, normal}}, time.Now())
	srv := httptest.NewServer(NewHandler(st, fixedStream{}, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)

	for _, want := range []string{
		`# HELP buzz_odd_bytes help mentions ,le="1e+06"} verbatim`,
		`buzz_odd_bytes_bucket{v="plain",le="0.00001"} 0`,
		`buzz_odd_bytes_bucket{v="plain",le="0.50"} 0`,
		`buzz_odd_bytes_bucket{v="plain",le="1000"} 1`,
		`buzz_odd_bytes_bucket{v="plain",le="1000000"} 1`,
		`buzz_odd_bytes_bucket{v="plain",le="+Inf"} 1`,
		`buzz_odd_bytes_bucket{v="x\",le=\"1e+06\"}",le="1000000"} 4`,
		`buzz_odd_bytes_sum{v="plain"} 900`,
		`buzz_odd_bare_bucket{le="2000000"} 5`,
		`buzz_event_processing_seconds_bucket{le="0.001"} 1`,
		`buzz_event_processing_seconds_bucket{le="0.5"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing line %q", want)
		}
	}
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "buzz_odd_") {
			continue
		}
		for _, bad := range []string{`le="1e+06"`, `le="1e-05"`, `le="0.5"`, `le="2e+06"`} {
			if strings.Contains(line, bad) {
				t.Errorf("formatter's bound %s on /metrics: %s", bad, line)
			}
		}
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not valid text format: %v\n%s", err, body)
	}
	if len(fams) != 3 || len(fams["buzz_odd_bytes"].GetMetric()) != 2 {
		t.Fatalf("parsed %d families:\n%s", len(fams), body)
	}
}
