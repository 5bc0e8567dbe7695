package redisbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// unreachableURL names a port nothing listens on.
const unreachableURL = "redis://127.0.0.1:1/0"

// The first subscription to a topic is in place when Interest returns, so
// an event another node publishes right after is not missed (the ws layer
// subscribes and then reads the store; an event stored after that read
// must arrive live). b reaches Redis through a slow link, so a SUBSCRIBE
// merely sent would arrive after a's publishes.
func TestFirstInterestIsActiveOnReturn(t *testing.T) {
	ns := namespace()
	p := startSlowProxy(t, redisURL())
	p.setDelay(20 * time.Millisecond)
	a := startNode(t, redisURL(), ns, nil)
	b := startNode(t, p.URL(), ns, nil)
	relaytest.WaitFor(t, 5*time.Second, "both connected", func() bool {
		return a.Stats().Connects == 1 && b.Stats().Connects == 1
	})
	const rounds, perRound = 5, 50
	id := 0
	want := 0
	for r := range rounds {
		ch := fmt.Sprintf("chan-%d", r)
		b.Interest(ch, true)
		for range perRound {
			a.Publish(context.Background(), event(id, 9, ch))
			id++
		}
		want += perRound
		// Global mode: the global topic is confirmed before Interest returns.
		if r == rounds-1 {
			b.Interest("", true)
			for range perRound {
				a.Publish(context.Background(), event(id, 1))
				id++
			}
			want += perRound
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(b.sink.ids()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := len(b.sink.ids()); got != want {
		t.Fatalf("b got %d of %d events published right after Interest; publisher %+v", got, want, a.Stats())
	}
}

// Interest never waits on a bus that is not connected, and gives up after
// about a second on one that is connected but not answering.
func TestInterestWaitIsBounded(t *testing.T) {
	down := startNode(t, unreachableURL, namespace(), nil)
	start := time.Now()
	down.Interest("chan-1", true)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Interest on a disconnected bus took %v", d)
	}

	p := startSlowProxy(t, redisURL())
	n := startNode(t, p.URL(), namespace(), nil)
	relaytest.WaitFor(t, 5*time.Second, "connected", func() bool { return n.Stats().Connects == 1 })
	n.Interest("chan-1", true) // prove confirmations arrive at all
	p.setDelay(1500 * time.Millisecond)
	start = time.Now()
	n.Interest("chan-2", true)
	if d := time.Since(start); d < 900*time.Millisecond || d > 1400*time.Millisecond {
		t.Fatalf("Interest with confirmations held back returned after %v, want about 1s", d)
	}
	p.setDelay(0)
	n.stop()
	start = time.Now()
	n.Interest("chan-3", true)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Interest on a stopped bus took %v", d)
	}
}

// Released topics do not pile up while Redis is down (only a connected
// session used to forget them).
func TestReleasedTopicsPrunedWhileDisconnected(t *testing.T) {
	n := startNode(t, unreachableURL, namespace(), func(o *Options) { o.Linger = time.Millisecond })
	peak := 0
	for i := range 100000 {
		ch := fmt.Sprintf("chan-%d", i)
		n.Interest(ch, true)
		n.Interest(ch, false)
		if i%100 == 0 {
			n.mu.Lock()
			peak = max(peak, len(n.want))
			n.mu.Unlock()
		}
	}
	if peak > 20000 {
		t.Fatalf("want grew to %d entries for released topics", peak)
	}
	t.Logf("peak want size %d", peak)
}
