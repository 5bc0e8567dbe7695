package metrics

import (
	"fmt"
	"math"
	"strconv"
)

// Type is a family's Prometheus type.
type Type uint8

// Family types.
const (
	TypeCounter Type = iota + 1
	TypeGauge
	TypeHistogram
)

// String returns the Prometheus name of the type.
func (t Type) String() string {
	switch t {
	case TypeCounter:
		return "counter"
	case TypeGauge:
		return "gauge"
	case TypeHistogram:
		return "histogram"
	}
	return "unknown"
}

// Bucket is one histogram bucket's upper bound, as a number and exactly as
// the catalog writes it for the "le" label.
type Bucket struct {
	UpperBound float64
	LE         string
}

// Series is one reading of one series. Values are cumulative.
type Series struct {
	// ID is stable for the life of the registry and unique in its family, so
	// readers can remember what they last saw of a series.
	ID int
	// LabelValues is aligned with the family's label names. Read-only.
	LabelValues []string
	// Value is the counter or gauge value.
	Value float64
	// BucketCounts are a histogram's cumulative counts, aligned with the
	// family's buckets (without +Inf).
	BucketCounts []uint64
	// Count and Sum are a histogram's observation count and sum.
	Count uint64
	Sum   float64
}

// SameValues reports whether two readings of one series carry equal values.
func (s *Series) SameValues(o *Series) bool {
	if s.Value != o.Value || s.Count != o.Count ||
		math.Float64bits(s.Sum) != math.Float64bits(o.Sum) || len(s.BucketCounts) != len(o.BucketCounts) {
		return false
	}
	for i, c := range s.BucketCounts {
		if o.BucketCounts[i] != c {
			return false
		}
	}
	return true
}

// Family is one metric family of the catalog: its descriptor and a way to
// read its series. Reading is safe concurrently with recording.
type Family struct {
	name       string
	help       string
	typ        Type
	labelNames []string
	buckets    []Bucket
	read       func(dst []Series) []Series
}

// Name returns the metric name.
func (f *Family) Name() string { return f.name }

// Help returns the help text.
func (f *Family) Help() string { return f.help }

// Type returns the Prometheus type.
func (f *Family) Type() Type { return f.typ }

// LabelNames returns the label names. Read-only.
func (f *Family) LabelNames() []string { return f.labelNames }

// Buckets returns a histogram's bucket bounds (without +Inf). Read-only.
func (f *Family) Buckets() []Bucket { return f.buckets }

// AppendSeries appends a reading of every present series to dst and returns
// it. Elements of dst beyond its length are reused (their BucketCounts
// capacity too), so a reader that keeps its buffer allocates little.
func (f *Family) AppendSeries(dst []Series) []Series { return f.read(dst) }

// Families returns every family in catalog order. Read-only.
func (m *Metrics) Families() []*Family { return m.reg.families }

// registry declares families in order and refuses duplicates.
type registry struct {
	families []*Family
}

func (r *registry) add(f *Family) {
	for _, g := range r.families {
		if g.name == f.name {
			panic(fmt.Sprintf("metrics: family %q declared twice", f.name)) // catalog bug, caught by tests
		}
	}
	r.families = append(r.families, f)
}

// next extends dst by one element, reusing a previous element's storage.
func next(dst []Series) ([]Series, *Series) {
	if len(dst) < cap(dst) {
		dst = dst[:len(dst)+1]
		s := &dst[len(dst)-1]
		*s = Series{BucketCounts: s.BucketCounts[:0]}
		return dst, s
	}
	dst = append(dst, Series{})
	return dst, &dst[len(dst)-1]
}

func appendCounter(dst []Series, c *Counter) []Series {
	dst, s := next(dst)
	s.ID, s.LabelValues, s.Value = c.id, c.labels, float64(c.v.Load())
	return dst
}

func appendHistogram(dst []Series, h *Histogram) []Series {
	dst, s := next(dst)
	s.ID, s.LabelValues = h.id, h.labels
	s.BucketCounts, s.Count, s.Sum = h.read(s.BucketCounts)
	return dst
}

func parseBuckets(les []string) ([]Bucket, []float64) {
	buckets := make([]Bucket, len(les))
	bounds := make([]float64, len(les))
	for i, le := range les {
		b, err := strconv.ParseFloat(le, 64)
		if err != nil || (i > 0 && b <= bounds[i-1]) {
			panic(fmt.Sprintf("metrics: bad bucket list %v", les)) // catalog bug, caught by tests
		}
		buckets[i], bounds[i] = Bucket{UpperBound: b, LE: le}, b
	}
	return buckets, bounds
}

func (r *registry) counter(name, help string) *Counter {
	c := &Counter{}
	r.add(&Family{name: name, help: help, typ: TypeCounter,
		read: func(dst []Series) []Series { return appendCounter(dst, c) }})
	return c
}

func (r *registry) gauge(name, help string, start gaugeStart) *Gauge {
	g := &Gauge{}
	g.known.Store(bool(start))
	r.add(&Family{name: name, help: help, typ: TypeGauge,
		read: func(dst []Series) []Series {
			if !g.known.Load() {
				return dst
			}
			dst, s := next(dst)
			s.Value = float64(g.v.Load())
			return dst
		}})
	return g
}

func (r *registry) histogram(name, help string, les []string) *Histogram {
	buckets, bounds := parseBuckets(les)
	h := newHistogram(bounds, nil, 0)
	r.add(&Family{name: name, help: help, typ: TypeHistogram, buckets: buckets,
		read: func(dst []Series) []Series { return appendHistogram(dst, h) }})
	return h
}

// readVec reads a vector's children in creation order, then its overflow
// series, with appendOne.
func readVec[T any](v *vec[T], appendOne func([]Series, *T) []Series) func([]Series) []Series {
	return func(dst []Series) []Series {
		list, over := v.children()
		for _, e := range list {
			dst = appendOne(dst, e.item)
		}
		if over != nil {
			dst = appendOne(dst, over)
		}
		return dst
	}
}

func (r *registry) counterVec(name, help string, labelNames ...string) *CounterVec {
	v := newVec(labelNames, func(labels []string, id int) *Counter { return &Counter{labels: labels, id: id} })
	r.add(&Family{name: name, help: help, typ: TypeCounter, labelNames: labelNames,
		read: readVec(v, appendCounter)})
	return &CounterVec{v: v}
}

func (r *registry) histogramVec(name, help string, les []string, labelNames ...string) *HistogramVec {
	buckets, bounds := parseBuckets(les)
	v := newVec(labelNames, func(labels []string, id int) *Histogram { return newHistogram(bounds, labels, id) })
	r.add(&Family{name: name, help: help, typ: TypeHistogram, labelNames: labelNames, buckets: buckets,
		read: readVec(v, appendHistogram)})
	return &HistogramVec{v: v}
}

func (r *registry) kindCounter(name, help string) *KindCounter {
	k := newKindCounter()
	r.add(&Family{name: name, help: help, typ: TypeCounter, labelNames: []string{"kind"},
		read: func(dst []Series) []Series {
			for _, c := range *k.order.Load() {
				dst = appendCounter(dst, c)
			}
			return dst
		}})
	return k
}
