package exposition

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

type connected struct{}

func (connected) Connected() bool    { return true }
func (connected) Reconnects() uint64 { return 0 }

// BenchmarkRender10kSeries scrapes /metrics over 10 000 series: 9 000
// counters and 1 000 histograms of 11 buckets.
func BenchmarkRender10kSeries(b *testing.B) {
	st := state.New(0)
	c := &metricsv1.MetricFamily{Name: "buzz_events_received_total", Help: "h", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, LabelNames: []string{"kind"}}
	for i := range 9000 {
		c.Series = append(c.Series, &metricsv1.Series{LabelValues: []string{strconv.Itoa(20000 + i)}, Value: float64(i)})
	}
	h := &metricsv1.MetricFamily{Name: "http_request_latency_ms", Help: "h", Type: metricsv1.MetricType_METRIC_TYPE_HISTOGRAM,
		LabelNames: []string{"code", "caller", "action"}, Buckets: buckets("5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000")}
	for i := range 1000 {
		h.Series = append(h.Series, &metricsv1.Series{LabelValues: []string{"200", "caller" + strconv.Itoa(i), "/api/x"},
			BucketCounts: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Count: 12, Sum: 1234.5})
	}
	st.Apply(&metricsv1.StreamResponse{Process: &metricsv1.Process{InstanceId: "x"}, Full: true, Families: []*metricsv1.MetricFamily{c, h}}, time.Now())
	if s := st.Stats().Series; s != 10000 {
		b.Fatalf("series %d", s)
	}
	handler := NewHandler(st, connected{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.Len() < 100000 {
			b.Fatalf("scrape %d, %d bytes", rec.Code, rec.Body.Len())
		}
	}
}
