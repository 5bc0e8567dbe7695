package state

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
)

func msg(id string, full bool, fams ...*metricsv1.MetricFamily) *metricsv1.StreamResponse {
	return &metricsv1.StreamResponse{Process: &metricsv1.Process{InstanceId: id}, Full: full, Families: fams}
}

func counter(name string, labels []string, series ...*metricsv1.Series) *metricsv1.MetricFamily {
	return &metricsv1.MetricFamily{Name: name, Help: "h", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, LabelNames: labels, Series: series}
}

func val(v float64, labels ...string) *metricsv1.Series {
	return &metricsv1.Series{LabelValues: labels, Value: v}
}

// values returns family name -> joined labels -> value (or count for histograms).
func values(s *State) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	s.Visit(func(f *Family) {
		m := map[string]float64{}
		for _, ser := range f.Series() {
			v := ser.Value
			if f.Type == Histogram {
				v = float64(ser.Count)
			}
			m[fmt.Sprint(ser.LabelValues)] = v
		}
		out[f.Name] = m
	})
	return out
}

func TestApplyFullThenDelta(t *testing.T) {
	s := New(0)
	now := time.Unix(100, 0)
	s.Apply(msg("a", false, counter("x_total", nil, val(1))), now)
	if st := s.Stats(); st.HaveSnapshot || st.Series != 1 {
		t.Fatalf("delta before full: %+v", st)
	}
	s.Apply(msg("a", true,
		counter("x_total", nil, val(5)),
		counter("y_total", []string{"kind"}, val(1, "1"), val(2, "other")),
	), now)
	s.Apply(msg("a", false, counter("y_total", []string{"kind"}, val(3, "1"))), now.Add(time.Second))
	got := values(s)
	if got["x_total"]["[]"] != 5 || got["y_total"]["[1]"] != 3 || got["y_total"]["[other]"] != 2 {
		t.Fatalf("values %v", got)
	}
	st := s.Stats()
	if !st.HaveSnapshot || st.Series != 3 || st.Families != 2 || !st.LastUpdate.Equal(now.Add(time.Second)) || st.InstanceID != "a" {
		t.Fatalf("stats %+v", st)
	}
}

func TestIdentityChangeDropsOldSeries(t *testing.T) {
	s := New(0)
	s.Apply(msg("a", true, counter("old_total", nil, val(9)), counter("x_total", nil, val(100))), time.Now())
	s.Apply(msg("b", true, counter("x_total", nil, val(2))), time.Now())
	got := values(s)
	if _, ok := got["old_total"]; ok || got["x_total"]["[]"] != 2 {
		t.Fatalf("after restart %v", got)
	}
	if st := s.Stats(); st.IdentityChanges != 1 || st.InstanceID != "b" {
		t.Fatalf("stats %+v", st)
	}
	// A first delta from a new process still drops the old process's series.
	s.Apply(msg("c", false, counter("y_total", nil, val(1))), time.Now())
	if got := values(s); len(got) != 1 || got["y_total"]["[]"] != 1 || s.Stats().HaveSnapshot {
		t.Fatalf("after delta from new process %v", got)
	}
}

func TestCountersNeverGoDownWithinAProcess(t *testing.T) {
	s := New(0)
	s.Apply(msg("a", true, counter("x_total", nil, val(10))), time.Now())
	s.Apply(msg("a", false, counter("x_total", nil, val(7))), time.Now())
	s.Apply(msg("a", true, counter("x_total", nil, val(8))), time.Now())
	if got := values(s)["x_total"]["[]"]; got != 10 {
		t.Fatalf("counter went to %v", got)
	}
	if s.Stats().StaleValues != 2 {
		t.Fatalf("stale %d", s.Stats().StaleValues)
	}
	g := &metricsv1.MetricFamily{Name: "g", Type: metricsv1.MetricType_METRIC_TYPE_GAUGE, Series: []*metricsv1.Series{val(5)}}
	s.Apply(msg("a", false, g), time.Now())
	g.Series[0].Value = 1
	s.Apply(msg("a", false, g), time.Now())
	if got := values(s)["g"]["[]"]; got != 1 {
		t.Fatalf("gauge %v", got)
	}
}

func TestSeriesCap(t *testing.T) {
	s := New(3)
	f := counter("x_total", []string{"k"})
	for i := range 5 {
		f.Series = append(f.Series, val(1, fmt.Sprint(i)))
	}
	s.Apply(msg("a", true, f), time.Now())
	if st := s.Stats(); st.Series != 3 || st.DroppedSeries != 2 {
		t.Fatalf("stats %+v", st)
	}
	// Existing series keep updating at the cap.
	s.Apply(msg("a", false, counter("x_total", []string{"k"}, val(4, "0"))), time.Now())
	if values(s)["x_total"]["[0]"] != 4 {
		t.Fatal("existing series not updated at the cap")
	}
}

func TestSanitise(t *testing.T) {
	s := New(0)
	hist := func(name string, labels []string, b ...*metricsv1.Bucket) *metricsv1.MetricFamily {
		return &metricsv1.MetricFamily{Name: name, Type: metricsv1.MetricType_METRIC_TYPE_HISTOGRAM, LabelNames: labels, Buckets: b,
			Series: []*metricsv1.Series{{LabelValues: make([]string, len(labels)), BucketCounts: make([]uint64, len(b))}}}
	}
	bad := []*metricsv1.MetricFamily{
		counter("bad-name", nil, val(1)),
		counter("9bad", nil, val(1)),
		counter("x", []string{"bad label"}, val(1, "v")),
		counter("x", []string{"__reserved"}, val(1, "v")),
		counter("x", []string{"a", "a"}, val(1, "v", "v")),
		{Name: "u", Type: metricsv1.MetricType(99), Series: []*metricsv1.Series{val(1)}},
		{Name: "u2", Type: metricsv1.MetricType_METRIC_TYPE_UNSPECIFIED, Series: []*metricsv1.Series{val(1)}},
		hist("h1", []string{"le"}, &metricsv1.Bucket{UpperBound: 1, Le: "1"}),
		hist("h2", nil, &metricsv1.Bucket{UpperBound: 2, Le: "2"}, &metricsv1.Bucket{UpperBound: 1, Le: "1"}),
		hist("h3", nil, &metricsv1.Bucket{UpperBound: 1, Le: "2"}),
		{Name: "c", Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, Buckets: []*metricsv1.Bucket{{UpperBound: 1}}},
	}
	s.Apply(msg("a", true, bad...), time.Now())
	if st := s.Stats(); st.Families != 0 || st.SkippedFamilies != uint64(len(bad)) {
		t.Fatalf("stats %+v, families %v", st, values(s))
	}
	badSeries := counter("ok_total", []string{"k"}, val(1), val(1, string([]byte{0xff})), val(1, "a", "b"), val(2, "fine"))
	h := hist("h_seconds", nil, &metricsv1.Bucket{UpperBound: 0.5}, &metricsv1.Bucket{UpperBound: 1, Le: "1"})
	h.Series = []*metricsv1.Series{{BucketCounts: []uint64{1, 2}, Count: 3}}
	s.Apply(msg("a", true, badSeries, h), time.Now())
	st := s.Stats()
	if st.Series != 2 || st.InvalidSeries != 3 || st.Families != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.Visit(func(f *Family) {
		if f.Name == "h_seconds" && (f.Buckets[0].LE != "0.5" || f.Buckets[1].LE != "1") {
			t.Errorf("le %v", f.Buckets)
		}
	})
	s.Apply(&metricsv1.StreamResponse{Full: true}, time.Now())
	if s.Stats().MessagesRejected != 1 {
		t.Fatal("message without identity accepted")
	}
}

// checkTotal asserts the running total the cap uses matches the series held.
func checkTotal(t *testing.T, s *State) {
	t.Helper()
	n := 0
	s.Visit(func(f *Family) { n += len(f.series) })
	if s.series != n || s.Stats().Series != n {
		t.Fatalf("running total %d, held %d", s.series, n)
	}
}

// TestLimitsBoundAMisbehavingRelay floods the state with delta messages a
// broken relay might send: thousands of new families, huge label values and
// help texts, too many label names. The state must stay bounded, count every
// refusal, and keep serving the well-formed families.
func TestLimitsBoundAMisbehavingRelay(t *testing.T) {
	s := New(0)
	now := time.Now()
	good := counter("buzz_events_received_total", []string{"kind"}, val(1, "1"), val(2, "other"))
	s.Apply(msg("a", true, good), now)

	const floods = 40
	for m := range floods {
		var fams []*metricsv1.MetricFamily
		for i := range 100 {
			fams = append(fams, counter(fmt.Sprintf("junk_%d_%d_total", m, i), nil, val(1)))
		}
		s.Apply(msg("a", false, fams...), now)
	}
	st := s.Stats()
	if st.Families != DefaultMaxFamilies {
		t.Fatalf("families %d, want the cap %d", st.Families, DefaultMaxFamilies)
	}
	if want := uint64(floods*100 + 1 - DefaultMaxFamilies); st.SkippedFamilies != want {
		t.Fatalf("skipped families %d, want %d", st.SkippedFamilies, want)
	}
	// Families already held keep updating at the cap.
	s.Apply(msg("a", false, counter("buzz_events_received_total", []string{"kind"}, val(5, "1"))), now)
	if got := values(s)["buzz_events_received_total"]["[1]"]; got != 5 {
		t.Fatalf("held family not updated at the family cap: %v", got)
	}

	// Restart with a fresh snapshot, then oversized descriptors and values.
	s.Apply(msg("b", true, good), now)
	skipped, invalid := s.Stats().SkippedFamilies, s.Stats().InvalidSeries
	big := strings.Repeat("x", DefaultMaxLabelValueLen+1)
	longHelp := counter("long_help_total", nil, val(1))
	longHelp.Help = strings.Repeat("h", DefaultMaxHelpLen+1)
	var manyLabels []string
	for i := range DefaultMaxLabelNames + 1 {
		manyLabels = append(manyLabels, fmt.Sprintf("l%d", i))
	}
	wide := counter("wide_total", manyLabels, val(1, make([]string, len(manyLabels))...))
	longName := counter("n"+strings.Repeat("a", DefaultMaxNameLen), nil, val(1))
	huge := counter("huge_total", []string{"v"})
	for i := range 2000 {
		huge.Series = append(huge.Series, val(1, fmt.Sprint(i)+big))
	}
	huge.Series = append(huge.Series, val(1, strings.Repeat("y", DefaultMaxLabelValueLen)))
	s.Apply(msg("b", false, longHelp, wide, longName, huge), now)
	st = s.Stats()
	if st.SkippedFamilies-skipped != 3 || st.InvalidSeries-invalid != 2000 {
		t.Fatalf("skipped %d, invalid %d; want 3 and 2000", st.SkippedFamilies-skipped, st.InvalidSeries-invalid)
	}
	got := values(s)
	if len(got) != 2 || len(got["huge_total"]) != 1 || got["buzz_events_received_total"]["[other]"] != 2 {
		t.Fatalf("state after oversized input: %d families, huge_total %d series", len(got), len(got["huge_total"]))
	}
	checkTotal(t, s)
}

// TestTotalSeriesCap: the total over all families is bounded, and replacing
// or resetting families gives the room back.
func TestTotalSeriesCap(t *testing.T) {
	s := NewWithLimits(Limits{MaxTotalSeries: 10})
	fam := func(name string, n int) *metricsv1.MetricFamily {
		f := counter(name, []string{"k"})
		for i := range n {
			f.Series = append(f.Series, val(1, fmt.Sprint(i)))
		}
		return f
	}
	s.Apply(msg("a", true, fam("a_total", 6), fam("b_total", 6)), time.Now())
	if st := s.Stats(); st.Series != 10 || st.DroppedSeries != 2 {
		t.Fatalf("stats %+v", st)
	}
	checkTotal(t, s)
	// A changed descriptor replaces a family and frees its series.
	g := fam("a_total", 3)
	g.Type = metricsv1.MetricType_METRIC_TYPE_GAUGE
	s.Apply(msg("a", false, g, fam("c_total", 5)), time.Now())
	if st := s.Stats(); st.Series != 10 || st.DroppedSeries != 4 {
		t.Fatalf("stats after replace %+v", st)
	}
	checkTotal(t, s)
	// A full snapshot starts the count again.
	s.Apply(msg("a", true, fam("d_total", 8)), time.Now())
	if st := s.Stats(); st.Series != 8 {
		t.Fatalf("stats after snapshot %+v", st)
	}
	checkTotal(t, s)
}
