package metrics

import "testing"

func BenchmarkCounterVecWithInc(b *testing.B) {
	m := New()
	code, caller, action := "200", "web-app", "/api/channels/{id}"
	m.HTTPRequests.With(code, caller, action)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.HTTPRequests.With(code, caller, action).Inc()
		}
	})
}

func BenchmarkCounterVecWithIncSerial(b *testing.B) {
	m := New()
	m.HTTPRequests.With("200", "web-app", "/api/channels/{id}")
	b.ReportAllocs()
	for b.Loop() {
		m.HTTPRequests.With("200", "web-app", "/api/channels/{id}").Inc()
	}
}

func BenchmarkKindCounterInc(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.EventsReceived.Inc(9)
	}
}

func BenchmarkCounterInc(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.WSConnections.Inc()
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.EventProcessing.Observe(0.02)
	}
}

func BenchmarkHistogramVecWithObserve(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.HTTPLatencyMS.With("200", "web-app", "/api/channels/{id}").Observe(42)
	}
}
