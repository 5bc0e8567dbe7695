package metrics

import (
	"math"
	"sync/atomic"
)

// Counter is a monotonically increasing count. Safe for concurrent use;
// recording is one atomic add.
type Counter struct {
	v      atomic.Uint64
	labels []string
	id     int
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Gauge is a value that goes up and down. A gauge whose value is not known
// yet (a pool gauge before its first sample) is absent from snapshots rather
// than reported as a made-up zero.
type Gauge struct {
	v     atomic.Int64
	known atomic.Bool
}

// gaugeStart says whether a gauge's zero value is true at process start.
type gaugeStart bool

const (
	knownAtStart   gaugeStart = true  // e.g. active connections: 0 is a fact
	unknownAtStart gaugeStart = false // e.g. pool sizes: unknown until sampled
)

// Set stores v.
func (g *Gauge) Set(v int64) { g.v.Store(v); g.markKnown() }

// Add adds d (which may be negative).
func (g *Gauge) Add(d int64) { g.v.Add(d); g.markKnown() }

// Inc adds one.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.Add(-1) }

// Value returns the current value and whether it has ever been written.
func (g *Gauge) Value() (int64, bool) { return g.v.Load(), g.known.Load() }

// markKnown loads before storing so the common case is a shared cache line.
func (g *Gauge) markKnown() {
	if !g.known.Load() {
		g.known.Store(true)
	}
}

// Histogram counts observations into fixed buckets. Recording is a short
// linear scan of the bounds, one atomic add and a compare-and-swap loop on
// the sum; nothing locks or allocates.
type Histogram struct {
	bounds  []float64       // ascending upper bounds, shared with the family
	counts  []atomic.Uint64 // per bucket, not cumulative; last is +Inf
	sumBits atomic.Uint64   // float64 bits of the sum
	labels  []string
	id      int
}

func newHistogram(bounds []float64, labels []string, id int) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1), labels: labels, id: id}
}

// Observe records v. NaN is ignored: it belongs in no bucket and would
// poison the sum forever.
func (h *Histogram) Observe(v float64) {
	if v != v {
		return
	}
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		sum := math.Float64bits(math.Float64frombits(old) + v)
		if h.sumBits.CompareAndSwap(old, sum) {
			return
		}
	}
}

// read fills cumulative bucket counts (len(bounds), reusing buf) and returns
// them with the total count and the sum. The count is derived from the
// buckets read, so a reading is always internally consistent; the sum may
// trail by an observation in flight and catches up on the next reading.
func (h *Histogram) read(buf []uint64) (cumulative []uint64, count uint64, sum float64) {
	cumulative = buf[:0]
	for i := range h.bounds {
		count += h.counts[i].Load()
		cumulative = append(cumulative, count)
	}
	count += h.counts[len(h.bounds)].Load()
	return cumulative, count, math.Float64frombits(h.sumBits.Load())
}
