// Package state keeps the latest cumulative metric state received from one
// relay process. Values are stored as received (they are cumulative), so a
// lost message costs nothing and a sidecar restart recovers everything from
// the relay's next full snapshot.
package state

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
)

// DefaultMaxSeries bounds the series of one family. The relay's widest family
// (events by kind, bounded by the kind allow-list) has about 10 200 series,
// so the cap sits above it while still bounding memory.
const DefaultMaxSeries = 20000

// Defaults for the other Limits. The relay's catalog has 36 families, at
// most 3 label names, 11 buckets, short help texts and short label values
// (kinds, fixed reasons, route patterns, a caller capped at 64 bytes); the
// limits sit well above that and only stop a misbehaving relay from growing
// the sidecar's memory without bound or filling /metrics with junk.
const (
	DefaultMaxFamilies      = 256
	DefaultMaxTotalSeries   = 100000
	DefaultMaxLabelNames    = 16
	DefaultMaxBuckets       = 64
	DefaultMaxLabelValueLen = 1024
	DefaultMaxHelpLen       = 4096
	DefaultMaxNameLen       = 256
)

// Limits bound what the state keeps. Zero fields take the defaults.
type Limits struct {
	MaxFamilies        int // families held; more are skipped
	MaxSeriesPerFamily int // series of one family; more are dropped
	MaxTotalSeries     int // series over all families; more are dropped
	MaxLabelNames      int // label names of one family; more skip it
	MaxBuckets         int // bounds of one histogram; more skip it
	MaxLabelValueLen   int // bytes of one label value; longer is invalid
	MaxHelpLen         int // bytes of a help text; longer skips the family
	MaxNameLen         int // bytes of a family or label name; longer skips it
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFamilies, DefaultMaxFamilies)
	def(&l.MaxSeriesPerFamily, DefaultMaxSeries)
	def(&l.MaxTotalSeries, DefaultMaxTotalSeries)
	def(&l.MaxLabelNames, DefaultMaxLabelNames)
	def(&l.MaxBuckets, DefaultMaxBuckets)
	def(&l.MaxLabelValueLen, DefaultMaxLabelValueLen)
	def(&l.MaxHelpLen, DefaultMaxHelpLen)
	def(&l.MaxNameLen, DefaultMaxNameLen)
	return l
}

// Type is a family's Prometheus type.
type Type int

// Known types; anything else in the stream is skipped.
const (
	Counter Type = iota + 1
	Gauge
	Histogram
)

// Bucket is one histogram bound, with its "le" text as the relay wrote it.
type Bucket struct {
	UpperBound float64
	LE         string
}

// Series is one series' latest cumulative value.
type Series struct {
	LabelValues  []string
	Value        float64
	BucketCounts []uint64 // cumulative, aligned with the family's buckets
	Count        uint64
	Sum          float64
}

// Family is a family's descriptor and series. Views passed to Visit are
// read-only and valid only during the call.
type Family struct {
	Name       string
	Help       string
	Type       Type
	LabelNames []string
	Buckets    []Bucket
	series     map[string]*Series
}

// Series returns the series in no particular order (the exposition sorts).
func (f *Family) Series() []*Series {
	out := make([]*Series, 0, len(f.series))
	for _, s := range f.series {
		out = append(out, s)
	}
	return out
}

// Stats describes the state for health endpoints and self-metrics.
type Stats struct {
	InstanceID       string    // current relay process, "" before any message
	HaveSnapshot     bool      // a full snapshot of the current process arrived
	LastUpdate       time.Time // when the last message was applied
	Families         int
	Series           int
	DroppedSeries    uint64 // refused by the per-family or total series cap
	InvalidSeries    uint64 // wrong arity, invalid UTF-8, over-long value, malformed histogram
	SkippedFamilies  uint64 // unknown type, invalid names or buckets, over a limit
	StaleValues      uint64 // counters that would have gone down; kept
	IdentityChanges  uint64 // relay restarts seen
	MessagesApplied  uint64
	MessagesRejected uint64 // messages without a process identity
}

// State is safe for concurrent use: one writer (the stream) and any number
// of readers (scrapes).
type State struct {
	lim Limits

	mu       sync.RWMutex
	instance string
	families map[string]*Family
	series   int // series over all families: the total cap and Stats
	stats    Stats
}

// New returns an empty state with the given per-family series cap
// (DefaultMaxSeries when <= 0) and the default other Limits.
func New(maxSeriesPerFamily int) *State {
	return NewWithLimits(Limits{MaxSeriesPerFamily: maxSeriesPerFamily})
}

// NewWithLimits returns an empty state bounded by lim.
func NewWithLimits(lim Limits) *State {
	return &State{lim: lim.withDefaults(), families: map[string]*Family{}}
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

func seriesKey(values []string) string { return strings.Join(values, "\xff") }

// Apply merges one stream message into the state. A new relay identity
// drops every series held for the previous one first (its counters restart);
// a full message replaces the state of its process.
func (s *State) Apply(msg *metricsv1.StreamResponse, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := msg.GetProcess().GetInstanceId()
	if id == "" {
		s.stats.MessagesRejected++
		return
	}
	sameProcess := id == s.instance
	if !sameProcess {
		if s.instance != "" {
			s.stats.IdentityChanges++
		}
		s.instance = id
		s.stats.HaveSnapshot = false
	}
	if !sameProcess || msg.GetFull() {
		old := s.families
		s.families = make(map[string]*Family, len(old))
		s.series = 0
		if sameProcess {
			// Keep the old values only as a floor for the monotonic guard.
			defer func() { s.floor(old) }()
		}
	}
	for _, mf := range msg.GetFamilies() {
		s.applyFamily(mf, sameProcess)
	}
	if msg.GetFull() {
		s.stats.HaveSnapshot = true
	}
	s.stats.LastUpdate = now
	s.stats.MessagesApplied++
}

// floor restores counter and histogram values from old where a full
// message of the same process carried smaller ones, so /metrics never shows
// a counter going down within one relay process.
func (s *State) floor(old map[string]*Family) {
	for name, f := range s.families {
		of, ok := old[name]
		if !ok || of.Type != f.Type || f.Type == Gauge {
			continue
		}
		for k, ser := range f.series {
			if os, ok := of.series[k]; ok && regressed(f.Type, os, ser) {
				f.series[k] = os
				s.stats.StaleValues++
			}
		}
	}
}

func regressed(t Type, old, cur *Series) bool {
	if t == Histogram {
		return cur.Count < old.Count
	}
	return cur.Value < old.Value
}

func (s *State) applyFamily(mf *metricsv1.MetricFamily, sameProcess bool) {
	desc, ok := describe(mf, s.lim)
	if !ok {
		s.stats.SkippedFamilies++
		return
	}
	f := s.families[desc.Name]
	if f == nil && len(s.families) >= s.lim.MaxFamilies {
		s.stats.SkippedFamilies++
		return
	}
	if f == nil || !sameDesc(f, desc) {
		if f != nil {
			s.series -= len(f.series)
		}
		desc.series = map[string]*Series{}
		f = desc
		s.families[f.Name] = f
	} else {
		f.Help = desc.Help
	}
	for _, ms := range mf.GetSeries() {
		ser, ok := convertSeries(f, ms, s.lim.MaxLabelValueLen)
		if !ok {
			s.stats.InvalidSeries++
			continue
		}
		key := seriesKey(ser.LabelValues)
		old, exists := f.series[key]
		if !exists && (len(f.series) >= s.lim.MaxSeriesPerFamily || s.series >= s.lim.MaxTotalSeries) {
			s.stats.DroppedSeries++
			continue
		}
		if exists && sameProcess && f.Type != Gauge && regressed(f.Type, old, ser) {
			s.stats.StaleValues++
			continue
		}
		if !exists {
			s.series++
		}
		f.series[key] = ser
	}
}

// describe validates a family's descriptor against the syntax and lim.
func describe(mf *metricsv1.MetricFamily, lim Limits) (*Family, bool) {
	f := &Family{Name: mf.GetName(), Help: mf.GetHelp(), LabelNames: mf.GetLabelNames()}
	switch mf.GetType() {
	case metricsv1.MetricType_METRIC_TYPE_COUNTER:
		f.Type = Counter
	case metricsv1.MetricType_METRIC_TYPE_GAUGE:
		f.Type = Gauge
	case metricsv1.MetricType_METRIC_TYPE_HISTOGRAM:
		f.Type = Histogram
	default:
		return nil, false // a type this sidecar does not know yet
	}
	if len(f.Name) > lim.MaxNameLen || !metricNameRE.MatchString(f.Name) ||
		len(f.Help) > lim.MaxHelpLen || !utf8.ValidString(f.Help) ||
		len(f.LabelNames) > lim.MaxLabelNames || len(mf.GetBuckets()) > lim.MaxBuckets {
		return nil, false
	}
	seen := map[string]bool{}
	for _, l := range f.LabelNames {
		if len(l) > lim.MaxNameLen || !labelNameRE.MatchString(l) || strings.HasPrefix(l, "__") || seen[l] || (f.Type == Histogram && l == "le") {
			return nil, false
		}
		seen[l] = true
	}
	if f.Type != Histogram {
		return f, len(mf.GetBuckets()) == 0
	}
	for i, b := range mf.GetBuckets() {
		ub := b.GetUpperBound()
		if math.IsNaN(ub) || math.IsInf(ub, 0) || (i > 0 && ub <= f.Buckets[i-1].UpperBound) {
			return nil, false
		}
		le := b.GetLe()
		if le == "" {
			le = strconv.FormatFloat(ub, 'g', -1, 64)
		} else if v, err := strconv.ParseFloat(le, 64); err != nil || v != ub {
			return nil, false
		}
		f.Buckets = append(f.Buckets, Bucket{UpperBound: ub, LE: le})
	}
	return f, true
}

func sameDesc(a, b *Family) bool {
	if a.Type != b.Type || len(a.LabelNames) != len(b.LabelNames) || len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for i := range a.LabelNames {
		if a.LabelNames[i] != b.LabelNames[i] {
			return false
		}
	}
	for i := range a.Buckets {
		if a.Buckets[i] != b.Buckets[i] {
			return false
		}
	}
	return true
}

func convertSeries(f *Family, ms *metricsv1.Series, maxValueLen int) (*Series, bool) {
	lv := ms.GetLabelValues()
	if len(lv) != len(f.LabelNames) {
		return nil, false
	}
	for _, v := range lv {
		if len(v) > maxValueLen || !utf8.ValidString(v) {
			return nil, false
		}
	}
	ser := &Series{LabelValues: lv, Value: ms.GetValue()}
	if f.Type != Histogram {
		return ser, true
	}
	bc := ms.GetBucketCounts()
	if len(bc) != len(f.Buckets) {
		return nil, false
	}
	for i := 1; i < len(bc); i++ {
		if bc[i] < bc[i-1] {
			return nil, false
		}
	}
	if len(bc) > 0 && ms.GetCount() < bc[len(bc)-1] {
		return nil, false
	}
	ser.BucketCounts, ser.Count, ser.Sum = bc, ms.GetCount(), ms.GetSum()
	return ser, true
}

// Visit calls fn for each family, sorted by name, under the read lock.
func (s *State) Visit(fn func(f *Family)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.families))
	for n := range s.families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fn(s.families[n])
	}
}

// Stats returns the current statistics.
func (s *State) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.InstanceID = s.instance
	st.Families = len(s.families)
	st.Series = s.series
	return st
}
