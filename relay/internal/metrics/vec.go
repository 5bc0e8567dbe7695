package metrics

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// MaxChildren bounds the series of one labelled family. Label combinations
// beyond it are recorded into the family's overflow series, whose every label
// value is "other", so totals stay right while memory stays bounded.
const MaxChildren = 1000

// entry is one child of a vector with its label values.
type entry[T any] struct {
	labels []string
	item   *T
}

// vec maps label values to children without locking or allocating on a hit:
// readers load an immutable index; the rare insert copies it under a mutex.
type vec[T any] struct {
	labelNames []string
	seed       maphash.Seed
	newItem    func(labels []string, id int) *T

	index    atomic.Pointer[map[uint64][]entry[T]]
	list     atomic.Pointer[[]entry[T]] // creation order; append-only
	overflow atomic.Pointer[T]
	overs    atomic.Uint64
	mu       sync.Mutex
}

func newVec[T any](labelNames []string, newItem func([]string, int) *T) *vec[T] {
	v := &vec[T]{labelNames: labelNames, seed: maphash.MakeSeed(), newItem: newItem}
	idx := map[uint64][]entry[T]{}
	v.index.Store(&idx)
	var list []entry[T]
	v.list.Store(&list)
	return v
}

func (v *vec[T]) hash(values []string) uint64 {
	var h uint64 = 0x9e3779b97f4a7c15
	for _, s := range values {
		h = (h ^ maphash.String(v.seed, s)) * 0x100000001b3
	}
	return h
}

func sameLabels(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// get returns the child for values, creating it on first use.
func (v *vec[T]) get(values []string) *T {
	h := v.hash(values)
	for _, e := range (*v.index.Load())[h] {
		if sameLabels(e.labels, values) {
			return e.item
		}
	}
	return v.insert(h, values)
}

func (v *vec[T]) insert(h uint64, values []string) *T {
	if len(values) != len(v.labelNames) {
		return v.overflowChild()
	}
	for _, s := range values {
		if !utf8.ValidString(s) {
			return v.overflowChild()
		}
	}
	v.mu.Lock()
	old := *v.index.Load()
	for _, e := range old[h] {
		if sameLabels(e.labels, values) {
			v.mu.Unlock()
			return e.item
		}
	}
	list := *v.list.Load()
	if len(list) >= MaxChildren {
		v.mu.Unlock()
		return v.overflowChild()
	}
	labels := make([]string, len(values))
	for i, s := range values {
		labels[i] = strings.Clone(s) // own the bytes: callers may pass views
	}
	e := entry[T]{labels: labels, item: v.newItem(labels, len(list))}
	idx := make(map[uint64][]entry[T], len(old)+1)
	for k, es := range old {
		idx[k] = es
	}
	idx[h] = append(append([]entry[T](nil), old[h]...), e)
	list = append(list, e)
	v.list.Store(&list)
	v.index.Store(&idx)
	v.mu.Unlock()
	return e.item
}

// overflowChild returns the shared overflow series, counting the overflow.
func (v *vec[T]) overflowChild() *T {
	v.overs.Add(1)
	if c := v.overflow.Load(); c != nil {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.overflow.Load(); c != nil {
		return c
	}
	labels := make([]string, len(v.labelNames))
	for i := range labels {
		labels[i] = LabelOther
	}
	c := v.newItem(labels, MaxChildren)
	v.overflow.Store(c)
	return c
}

// children returns the children in creation order, then the overflow child.
func (v *vec[T]) children() ([]entry[T], *T) {
	return *v.list.Load(), v.overflow.Load()
}

// CounterVec is a counter family with labels.
type CounterVec struct{ v *vec[Counter] }

// With returns the counter for the label values, in label-name order. The
// child is cached: keeping it avoids even the lookup. Wrong arity, invalid
// UTF-8 and combinations beyond MaxChildren go to the overflow series.
func (c *CounterVec) With(labelValues ...string) *Counter { return c.v.get(labelValues) }

// Overflows returns how many With calls were sent to the overflow series.
func (c *CounterVec) Overflows() uint64 { return c.v.overs.Load() }

// HistogramVec is a histogram family with labels.
type HistogramVec struct{ v *vec[Histogram] }

// With returns the histogram for the label values; see CounterVec.With.
func (h *HistogramVec) With(labelValues ...string) *Histogram { return h.v.get(labelValues) }

// Overflows returns how many With calls were sent to the overflow series.
func (h *HistogramVec) Overflows() uint64 { return h.v.overs.Load() }
