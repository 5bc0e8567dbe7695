package metricsrpc

import (
	"slices"
	"time"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
)

// describe builds a family's descriptor (without series) once.
func describe(f *metrics.Family) *metricsv1.MetricFamily {
	d := &metricsv1.MetricFamily{Name: f.Name(), Help: f.Help(), LabelNames: f.LabelNames()}
	switch f.Type() {
	case metrics.TypeCounter:
		d.Type = metricsv1.MetricType_METRIC_TYPE_COUNTER
	case metrics.TypeGauge:
		d.Type = metricsv1.MetricType_METRIC_TYPE_GAUGE
	case metrics.TypeHistogram:
		d.Type = metricsv1.MetricType_METRIC_TYPE_HISTOGRAM
	}
	for _, b := range f.Buckets() {
		d.Buckets = append(d.Buckets, &metricsv1.Bucket{UpperBound: b.UpperBound, Le: b.LE})
	}
	return d
}

// reader is one stream's view of the registry: what it sent last, so the
// next message carries only what changed.
type reader struct {
	s    *Server
	fams []famReading
}

type famReading struct {
	prev, cur []metrics.Series
	prevIdx   map[int]int // series ID -> index in prev
}

func newReader(s *Server) *reader {
	r := &reader{s: s, fams: make([]famReading, len(s.descs))}
	for i := range r.fams {
		r.fams[i].prevIdx = map[int]int{}
	}
	return r
}

// next reads the registry and builds message seq.
func (r *reader) next(seq uint64, full bool) *metricsv1.StreamResponse {
	msg := &metricsv1.StreamResponse{
		Process:      r.s.id,
		Sequence:     seq,
		Full:         full,
		TimeUnixNano: time.Now().UnixNano(),
		IntervalMs:   uint32(r.s.interval / time.Millisecond),
	}
	for i, f := range r.s.m.Families() {
		fr := &r.fams[i]
		fr.cur = f.AppendSeries(fr.cur[:0])
		var out *metricsv1.MetricFamily
		for j := range fr.cur {
			cur := &fr.cur[j]
			if !full {
				if k, ok := fr.prevIdx[cur.ID]; ok && fr.prev[k].SameValues(cur) {
					continue
				}
			}
			if out == nil {
				d := r.s.descs[i]
				out = &metricsv1.MetricFamily{Name: d.Name, Help: d.Help, Type: d.Type, LabelNames: d.LabelNames, Buckets: d.Buckets}
				msg.Families = append(msg.Families, out)
			}
			out.Series = append(out.Series, &metricsv1.Series{
				LabelValues:  cur.LabelValues,
				Value:        cur.Value,
				BucketCounts: slices.Clone(cur.BucketCounts),
				Sum:          cur.Sum,
				Count:        cur.Count,
			})
		}
		fr.prev, fr.cur = fr.cur, fr.prev
		clear(fr.prevIdx)
		for j := range fr.prev {
			fr.prevIdx[fr.prev[j].ID] = j
		}
	}
	return msg
}
