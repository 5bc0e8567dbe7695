// Package exposition serves the state to Prometheus: /metrics (only the
// relay's families, text format 0.0.4), /healthz, /readyz, and the sidecar's
// own metrics on /sidecar/metrics.
package exposition

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/buzzrelay/buzz/statsd-sidecar/internal/state"
)

// collector exposes the state through client_golang. It describes nothing
// up front (the families arrive at run time), which makes it an unchecked
// collector; the state already guarantees valid, unique series.
type collector struct {
	st *state.State
}

// Describe sends no descriptors: the collector is unchecked.
func (c collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series of the state as a constant metric.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.st.Visit(func(f *state.Family) {
		desc := prometheus.NewDesc(f.Name, f.Help, f.LabelNames, nil)
		for _, s := range f.Series() {
			var (
				m   prometheus.Metric
				err error
			)
			switch f.Type {
			case state.Counter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, s.Value, s.LabelValues...)
			case state.Gauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.Value, s.LabelValues...)
			case state.Histogram:
				buckets := make(map[float64]uint64, len(f.Buckets))
				for i, b := range f.Buckets {
					buckets[b.UpperBound] = s.BucketCounts[i]
				}
				m, err = prometheus.NewConstHistogram(desc, s.Count, s.Sum, buckets, s.LabelValues...)
			default:
				continue
			}
			if err == nil {
				ch <- m
			}
		}
	})
}
