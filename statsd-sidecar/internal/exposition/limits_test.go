package exposition

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

// TestRefusalsOnSelfMetrics: families and series refused by the state's
// limits stay off /metrics and show on /sidecar/metrics.
func TestRefusalsOnSelfMetrics(t *testing.T) {
	st := state.New(0)
	var fams []*metricsv1.MetricFamily
	for i := range state.DefaultMaxFamilies + 10 {
		fams = append(fams, &metricsv1.MetricFamily{Name: fmt.Sprintf("junk_%d_total", i), Type: metricsv1.MetricType_METRIC_TYPE_COUNTER,
			Series: []*metricsv1.Series{{Value: 1}}})
	}
	c := counter("buzz_events_received_total", 1)
	c.Series[0].LabelValues = []string{strings.Repeat("k", state.DefaultMaxLabelValueLen+1)}
	st.Apply(&metricsv1.StreamResponse{Process: &metricsv1.Process{InstanceId: "r"}, Full: true,
		Families: append([]*metricsv1.MetricFamily{c}, fams...)}, time.Now())
	srv := httptest.NewServer(NewHandler(st, fixedStream{}, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	defer srv.Close()
	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if n := strings.Count(get("/metrics"), "# TYPE "); n != state.DefaultMaxFamilies {
		t.Errorf("/metrics has %d families, want %d", n, state.DefaultMaxFamilies)
	}
	self := get("/sidecar/metrics")
	for _, want := range []string{"buzz_sidecar_skipped_families_total 11\n", "buzz_sidecar_invalid_series_total 1\n"} {
		if !strings.Contains(self, want) {
			t.Errorf("self-metrics lack %q", want)
		}
	}
}
