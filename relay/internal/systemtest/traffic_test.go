package systemtest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// signBatch signs n events of kind for u in parallel (signing is the
// client's cost and is kept out of every measured window).
func signBatch(t testing.TB, u relaytest.User, kind, n int, label string) []gonostr.Event {
	t.Helper()
	evs := make([]gonostr.Event, n)
	now := gonostr.Now()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				evs[i] = gonostr.Event{Kind: kind, CreatedAt: now, Tags: gonostr.Tags{},
					Content: fmt.Sprintf("%s %d", label, i)}
				if err := evs[i].Sign(u.SK); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return evs
}

// load is a set of authenticated publishers, one connection per user, each
// with its own pre-signed events.
type load struct {
	users   []relaytest.User
	clients []*relaytest.RawClient
}

// newLoad authenticates n users on url.
func newLoad(t testing.TB, url string, n int) *load {
	t.Helper()
	l := &load{}
	for range n {
		u := relaytest.NewUser(t)
		c := relaytest.MustDialRaw(t, url, u)
		l.users = append(l.users, u)
		l.clients = append(l.clients, c)
	}
	return l
}

// sign prepares per events of kind for every publisher.
func (l *load) sign(t testing.TB, kind, per int, label string) [][]gonostr.Event {
	t.Helper()
	out := make([][]gonostr.Event, len(l.users))
	for i, u := range l.users {
		out[i] = signBatch(t, u, kind, per, label)
	}
	return out
}

// result is what one run of publishing measured.
type result struct {
	accepted, refused int
	elapsed           time.Duration
	latencies         []time.Duration // per event, send to OK, sorted
}

func (r result) rate() float64 { return float64(r.accepted+r.refused) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// publish sends every publisher's events, each waiting for its OK before the
// next, all publishers at once. A missing OK fails the test.
func (l *load) publish(t testing.TB, batches [][]gonostr.Event) result {
	t.Helper()
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	errs := make(chan error, len(l.clients))
	start := time.Now()
	for i, c := range l.clients {
		wg.Go(func() {
			lat := make([]time.Duration, 0, len(batches[i]))
			acc, ref := 0, 0
			for _, ev := range batches[i] {
				s := time.Now()
				ok, _, err := c.Publish(ev)
				if err != nil {
					errs <- fmt.Errorf("publisher %d: no OK for %s: %w", i, ev.ID, err)
					break
				}
				lat = append(lat, time.Since(s))
				if ok {
					acc++
				} else {
					ref++
				}
			}
			mu.Lock()
			res.accepted += acc
			res.refused += ref
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(res.latencies)
	return res
}
