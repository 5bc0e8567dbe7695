package fanout

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// TestConcurrentSubscribeDeliver runs subscription churn and deliveries in
// parallel (meant for -race). A subscription that stays open throughout must
// get every event exactly once, and when the churn is over the index and the
// interest hook must be empty again.
func TestConcurrentSubscribeDeliver(t *testing.T) {
	obs := &countingObserver{}
	ix := NewIndex(&memberChecker{private: map[string]map[string]bool{"c1": {"p0": true}}}, obs)
	log := newHookLog()
	ix.SetInterestHook(log.hook)

	stable := newRecorder("p0")
	ix.Subscribe(stable, "stable", []nostr.Filter{{Kinds: kinds(9)}})

	const (
		churners   = 4
		deliverers = 4
		rounds     = 300
		perDeliver = 100
	)
	var wg sync.WaitGroup
	for w := range churners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := []*recorder{newRecorder(fmt.Sprint("p", w)), newRecorder("p0")}
			for i := range rounds {
				r := recs[i%2]
				ch := fmt.Sprint("c", i%5)
				ix.Subscribe(r, fmt.Sprint("s", i%3), []nostr.Filter{{Tags: chans(ch), Kinds: kinds(9, 1)}, {Kinds: kinds(i % 4)}})
				if ix.Count(r) > 2 {
					ix.Unsubscribe(r, fmt.Sprint("s", (i+1)%3))
				}
				if i%50 == 49 {
					ix.UnsubscribeAll(r)
				}
				_, _ = ix.Channels()
				r.take()
			}
			for _, r := range recs {
				ix.UnsubscribeAll(r)
			}
		}()
	}
	for d := range deliverers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perDeliver {
				ix.Deliver(context.Background(), event(9, fmt.Sprint("c", (i+d)%6), int64(i)))
			}
		}()
	}
	wg.Wait()

	if got := len(stable.take()); got != deliverers*perDeliver {
		t.Errorf("stable subscription got %d frames, want %d", got, deliverers*perDeliver)
	}
	if !ix.Unsubscribe(stable, "stable") {
		t.Fatal("stable subscription vanished")
	}
	if ix.Len() != 0 || len(ix.buckets) != 0 || len(ix.interest) != 0 || len(ix.conns) != 0 {
		t.Errorf("index not empty: len=%d buckets=%d interest=%v conns=%d", ix.Len(), len(ix.buckets), ix.interest, len(ix.conns))
	}
	if obs.subs.Load() != 0 {
		t.Errorf("observer sum = %d, want 0", obs.subs.Load())
	}
	if obs.calls.Load() != deliverers*perDeliver {
		t.Errorf("Delivered called %d times, want %d", obs.calls.Load(), deliverers*perDeliver)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.active) != 0 || len(log.bad) != 0 {
		t.Errorf("hook left active=%v bad=%v", log.active, log.bad)
	}
}
