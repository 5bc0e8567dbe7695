package state

import (
	"fmt"
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
