package systemtest

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"
)

// BenchmarkIngestSidecar measures one relay process's ingest rate with no
// sidecar and with a sidecar connected and scraped continuously (every
// 100 ms, some hundred times more often than Prometheus would), in
// alternating rounds (none, sidecar, none, sidecar, ...) so drift on a
// shared machine hits both alike. Each phase publishes b.N pre-signed events
// from eight clients; run it with -benchtime=4000x or so. The spread of the
// rounds without a sidecar is the noise; the sidecar's cost (medians
// compared) must be within it, and at least 20 % is always allowed.
//
// "stored" events go through the embedded store (fsync per event);
// "ephemeral" ones skip it, leaving the relay's own CPU as the bottleneck.
func BenchmarkIngestSidecar(b *testing.B) {
	for _, k := range []struct {
		name string
		kind int
	}{{"stored", 1}, {"ephemeral", 20001}} {
		b.Run(k.name, func(b *testing.B) { benchIngest(b, k.kind) })
	}
}

func benchIngest(b *testing.B, kind int) {
	r := startRelay(b, nil)
	l := newLoad(b, r.URL, publishers)
	per := max(b.N/publishers, 1)
	const rounds = 3
	batches := make([][][]gonostr.Event, 1+2*rounds)
	for i := range batches {
		batches[i] = l.sign(b, kind, per, fmt.Sprintf("bench %d", i))
	}
	run := func(batch [][]gonostr.Event) float64 {
		res := l.publish(b, batch)
		if res.accepted != per*publishers {
			b.Fatalf("%d of %d events accepted", res.accepted, per*publishers)
		}
		return res.rate()
	}
	run(batches[0]) // warm-up

	var without, with []float64
	scrapes := 0
	b.ResetTimer()
	for round := range rounds {
		without = append(without, run(batches[1+2*round]))

		b.StopTimer()
		s := startSidecar(b, r.MetricsGRPC)
		deadline := time.Now().Add(15 * time.Second)
		for s.ready() != http.StatusOK {
			if time.Now().After(deadline) {
				b.Fatal("sidecar did not become ready")
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop := scrapeContinuously(s)
		b.StartTimer()

		with = append(with, run(batches[2+2*round]))

		b.StopTimer()
		scrapes += stop()
		s.Kill()
		b.StartTimer()
	}
	b.StopTimer()

	median := func(v []float64) float64 { v = slices.Sorted(slices.Values(v)); return v[len(v)/2] }
	spread := func(v []float64) float64 { return (slices.Max(v) - slices.Min(v)) / median(v) }
	noise := spread(without)
	diff := (median(with) - median(without)) / median(without)
	b.ReportMetric(median(without), "ev/s-no-sidecar")
	b.ReportMetric(median(with), "ev/s-sidecar")
	b.ReportMetric(100*diff, "%diff")
	b.ReportMetric(100*noise, "%noise")
	b.ReportMetric(float64(scrapes), "scrapes")
	b.Logf("events/s without sidecar %.0f, with sidecar %.0f (%d scrapes); medians differ by %+.1f%%, noise %.1f%%",
		without, with, scrapes, 100*diff, 100*noise)
	if per*publishers >= 2000 && -diff > max(2*noise, 0.2) {
		b.Errorf("ingest with a sidecar is %.1f%% slower, beyond the noise (%.1f%%)", -100*diff, 100*noise)
	}
}

// scrapeContinuously scrapes /metrics every 100 ms
// until stopped; stop returns the number of good scrapes.
func scrapeContinuously(s *sidecarProc) (stop func() int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	n := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := s.tryScrape(); err == nil {
				n++
			}
		}
	})
	return func() int { close(done); wg.Wait(); return n }
}
