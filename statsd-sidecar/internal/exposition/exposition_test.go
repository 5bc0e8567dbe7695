package exposition

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/stream"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/testrelay"
)

// PromDefaultAccept is the Accept header Prometheus 3 sends by default.
const promDefaultAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// protoAccept is what Prometheus 2 sends with native histograms enabled.
const protoAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"

func buckets(les ...string) []*metricsv1.Bucket {
	var out []*metricsv1.Bucket
	for _, le := range les {
		var v float64
		fmt.Sscan(le, &v)
		out = append(out, &metricsv1.Bucket{UpperBound: v, Le: le})
	}
	return out
}

func hist(name string, les []string, labels []string, lv []string, counts []uint64, sum float64) *metricsv1.MetricFamily {
	return &metricsv1.MetricFamily{Name: name, Help: name + " help", Type: metricsv1.MetricType_METRIC_TYPE_HISTOGRAM,
		LabelNames: labels, Buckets: buckets(les...),
		Series: []*metricsv1.Series{{LabelValues: lv, BucketCounts: counts, Count: counts[len(counts)-1] + 1, Sum: sum}}}
}

func counter(name string, v float64) *metricsv1.MetricFamily {
	return &metricsv1.MetricFamily{Name: name, Help: "Events received over WS.", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER,
		LabelNames: []string{"kind"}, Series: []*metricsv1.Series{{LabelValues: []string{"1"}, Value: v}, {LabelValues: []string{"other"}, Value: 2}}}
}

type rig struct {
	relay  *testrelay.Server
	client *stream.Client
	http   *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T) *rig {
	t.Helper()
	relay, err := testrelay.Start(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	st := state.New(0)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	client := stream.New(relay.Addr(), st, stream.WithLogger(log), stream.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{relay: relay, client: client, http: httptest.NewServer(NewHandler(st, client, log)), cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = client.Run(ctx) }()
	t.Cleanup(func() { r.cancel(); <-r.done; r.http.Close(); relay.Stop() })
	return r
}

func (r *rig) get(t *testing.T, path, accept string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.http.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsEndToEnd(t *testing.T) {
	r := newRig(t)
	if code, _, _ := r.get(t, "/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	r.relay.Set(counter("buzz_events_received_total", 5))
	r.relay.Set(hist("http_request_latency_ms", []string{"5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000"},
		[]string{"code", "caller", "action"}, []string{"200", "web", "/api/x"}, []uint64{0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, 5012))
	r.relay.Set(hist("buzz_event_processing_seconds", []string{"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5"},
		nil, nil, []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 0.0005))
	r.relay.Set(hist("buzz_fanout_recipients", []string{"0", "1", "5", "10", "25", "50", "100", "500", "1000"},
		nil, nil, []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 0))
	r.relay.Set(&metricsv1.MetricFamily{Name: "buzz_db_pool_size", Help: "Total Postgres pool connections.", Type: metricsv1.MetricType_METRIC_TYPE_GAUGE,
		Series: []*metricsv1.Series{{Value: 7}}})
	// A type from the future and unknown fields everywhere: skipped / ignored.
	r.relay.Set(&metricsv1.MetricFamily{Name: "buzz_future_summary", Type: metricsv1.MetricType(42), Series: []*metricsv1.Series{{Value: 1}}})
	r.relay.Inject(testrelay.WithUnknownField(&metricsv1.StreamResponse{
		Process: &metricsv1.Process{InstanceId: "relay-1"}, Sequence: 99,
		Families: []*metricsv1.MetricFamily{testrelay.WithUnknownField(counter("buzz_events_stored_total", 3))},
	}))

	eventually(t, "ready", func() bool { code, _, _ := r.get(t, "/readyz", ""); return code == http.StatusOK })
	eventually(t, "all families", func() bool {
		_, _, body := r.get(t, "/metrics", "")
		return strings.Contains(body, "buzz_events_stored_total") && strings.Contains(body, "buzz_db_pool_size")
	})

	for _, accept := range []string{"", "text/plain", promDefaultAccept, protoAccept} {
		code, hdr, body := r.get(t, "/metrics", accept)
		if code != http.StatusOK || hdr.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
			t.Fatalf("accept %q: %d %q", accept, code, hdr.Get("Content-Type"))
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("accept %q: not valid text format: %v\n%s", accept, err, body)
		}
		for name := range fams {
			if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "buzz_sidecar_") ||
				name == "target_info" || name == "buzz_future_summary" {
				t.Errorf("unexpected family %s on /metrics", name)
			}
		}
		if len(fams) != 6 {
			t.Errorf("families %d: %s", len(fams), body)
		}
	}
	_, _, body := r.get(t, "/metrics", "")
	for _, want := range []string{
		"# HELP buzz_events_received_total Events received over WS.",
		"# TYPE buzz_events_received_total counter",
		`buzz_events_received_total{kind="1"} 5`,
		`buzz_events_received_total{kind="other"} 2`,
		`buzz_events_stored_total{kind="1"} 3`,
		"# TYPE http_request_latency_ms histogram",
		`http_request_latency_ms_bucket{action="/api/x",caller="web",code="200",le="5"} 0`,
		`http_request_latency_ms_bucket{action="/api/x",caller="web",code="200",le="10000"} 2`,
		`http_request_latency_ms_bucket{action="/api/x",caller="web",code="200",le="+Inf"} 3`,
		`http_request_latency_ms_sum{action="/api/x",caller="web",code="200"} 5012`,
		`http_request_latency_ms_count{action="/api/x",caller="web",code="200"} 3`,
		`buzz_event_processing_seconds_bucket{le="0.001"} 1`,
		`buzz_event_processing_seconds_bucket{le="0.005"} 1`,
		`buzz_event_processing_seconds_bucket{le="0.025"} 1`,
		`buzz_event_processing_seconds_bucket{le="5"} 1`,
		`buzz_event_processing_seconds_sum 0.0005`,
		`buzz_fanout_recipients_bucket{le="0"} 1`,
		`buzz_fanout_recipients_bucket{le="1000"} 1`,
		"# TYPE buzz_db_pool_size gauge",
		"buzz_db_pool_size 7",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing line %q", want)
		}
	}

	_, _, self := r.get(t, "/sidecar/metrics", "")
	for _, want := range []string{"buzz_sidecar_relay_connected 1", "buzz_sidecar_series 8", "buzz_sidecar_skipped_families_total", "go_goroutines"} {
		if !strings.Contains(self, want) {
			t.Errorf("self-metrics missing %q", want)
		}
	}

	// Relay goes away: last values keep being served, readiness says why.
	r.relay.Stop()
	eventually(t, "not ready", func() bool { code, _, _ := r.get(t, "/readyz", ""); return code == http.StatusServiceUnavailable })
	_, hdr, why := r.get(t, "/readyz", "")
	var ready map[string]any
	if err := json.Unmarshal([]byte(why), &ready); err != nil || ready["ready"] != false || !strings.Contains(fmt.Sprint(ready["reason"]), "disconnected") ||
		hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("readyz body %s (%v)", why, err)
	}
	if _, _, after := r.get(t, "/metrics", ""); !strings.Contains(after, `buzz_events_received_total{kind="1"} 5`) {
		t.Fatal("last known values not served while the relay is away")
	}
	if code, _, _ := r.get(t, "/healthz", ""); code != http.StatusOK {
		t.Fatal("healthz failed while relay away")
	}
}

func TestRelayRestartDropsOldSeries(t *testing.T) {
	r := newRig(t)
	r.relay.Set(counter("buzz_events_received_total", 50))
	r.relay.Set(&metricsv1.MetricFamily{Name: "buzz_old_total", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, Series: []*metricsv1.Series{{Value: 1}}})
	eventually(t, "first process", func() bool {
		_, _, b := r.get(t, "/metrics", "")
		return strings.Contains(b, `buzz_events_received_total{kind="1"} 50`)
	})
	r.relay.Restart("relay-2")
	r.relay.Set(counter("buzz_events_received_total", 1))
	eventually(t, "second process", func() bool {
		_, _, b := r.get(t, "/metrics", "")
		return strings.Contains(b, `buzz_events_received_total{kind="1"} 1`+"\n")
	})
	if _, _, b := r.get(t, "/metrics", ""); strings.Contains(b, "buzz_old_total") {
		t.Fatalf("series of the previous relay process survived:\n%s", b)
	}
	if _, _, self := r.get(t, "/sidecar/metrics", ""); !strings.Contains(self, "buzz_sidecar_relay_restarts_total 1") {
		t.Fatalf("restart not counted:\n%s", self)
	}
}

func TestNotReadyBeforeFirstSnapshot(t *testing.T) {
	st := state.New(0)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// Nothing listens on port 1: the client keeps retrying.
	client := stream.New("127.0.0.1:1", st, stream.WithLogger(log), stream.WithBackoff(5*time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = client.Run(ctx) }()
	defer func() { cancel(); <-done }()
	srv := httptest.NewServer(NewHandler(st, client, log))
	defer srv.Close()
	r := &rig{http: srv}
	eventually(t, "reconnect attempts", func() bool { return client.Reconnects() >= 2 })
	code, _, body := r.get(t, "/readyz", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no snapshot") {
		t.Fatalf("readyz %d %s", code, body)
	}
	if code, _, _ := r.get(t, "/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	if code, _, body := r.get(t, "/metrics", ""); code != http.StatusOK || body != "" {
		t.Fatalf("metrics before snapshot: %d %q", code, body)
	}
}
