package redisbus

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// bigEvent is an event of about size bytes.
func bigEvent(i, size int) *nostr.Event {
	ev := event(i, 1)
	ev.Content = strings.Repeat("x", size)
	return ev
}

// The publish queue is bounded in bytes too: large events are dropped and
// counted long before the message-count bound.
func TestPublishQueueBytesBound(t *testing.T) {
	// Not running: nothing drains the queue.
	b, err := New(Options{URL: redisURL(), Namespace: namespace(), Local: newSink(), Caches: newSink(),
		OutboundBytes: 100 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 20 {
		b.Publish(context.Background(), bigEvent(i, 10<<10))
	}
	dropped := b.Stats().PublishDropped
	if dropped < 10 || dropped > 12 {
		t.Fatalf("dropped %d of 20 10-KiB events under a 100-KiB bound, want 10-12", dropped)
	}
	if got := len(b.out); got != 20-int(dropped) {
		t.Fatalf("%d queued, %d dropped, of 20", got, dropped)
	}
	if err := b.PublishInvalidation(context.Background(), access.Invalidation{Channel: "c", Pubkeys: []string{strings.Repeat("p", 20<<10)}}); err == nil {
		t.Fatal("invalidation over the byte bound accepted")
	}
	// Small messages still fit.
	b.Publish(context.Background(), event(100, 1))
	if got := b.Stats().PublishDropped; got != dropped+1 {
		t.Fatalf("dropped %d after a small event, want %d", got, dropped+1)
	}
}

// Publishing returns the bytes: a running bus publishes everything queued
// and the byte count goes back to zero.
func TestPublishQueueBytesReleased(t *testing.T) {
	n := startNode(t, redisURL(), namespace(), func(o *Options) { o.OutboundBytes = 100 << 10 })
	for round := range 5 {
		for i := range 5 {
			n.Publish(context.Background(), bigEvent(round*10+i, 10<<10))
		}
		relaytest.WaitFor(t, 5*time.Second, "published", func() bool { return n.Stats().Published == uint64(5*(round+1)) })
	}
	if s := n.Stats(); s.PublishDropped != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := n.outBytes.Load(); got != 0 {
		t.Fatalf("%d bytes still counted as queued", got)
	}
}

// The hand-off to fan-out is bounded in bytes: behind a stuck consumer,
// large events are dropped and counted as lag while the count bound (10 000)
// is far away.
func TestInboundQueueBytesBound(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	block := make(chan struct{})
	b := startNode(t, redisURL(), ns, func(o *Options) { o.InboundBytes = 100 << 10 })
	b.sink.block = block
	var unblock sync.Once
	t.Cleanup(func() { unblock.Do(func() { close(block) }) }) // before b stops
	b.Interest("", true)
	relaytest.WaitFor(t, 5*time.Second, "b subscribed", func() bool { return numsub(t, rc, b.GlobalTopic()) == 1 })

	const total = 40
	for i := range total {
		a.Publish(context.Background(), bigEvent(i, 10<<10))
	}
	relaytest.WaitFor(t, 5*time.Second, "all published", func() bool { return a.Stats().Published == total })
	relaytest.WaitFor(t, 5*time.Second, "lag counted", func() bool {
		_, fan, _ := b.obs.get()
		return fan >= total-12
	})
	unblock.Do(func() { close(block) })
	relaytest.WaitFor(t, 5*time.Second, "survivors delivered", func() bool {
		_, fan, _ := b.obs.get()
		return len(b.sink.ids())+fan == total
	})
	_, fan, _ := b.obs.get()
	if got := len(b.sink.ids()); got < 9 || got > 12 {
		t.Fatalf("%d delivered, %d dropped, of %d 10-KiB events under a 100-KiB bound", got, fan, total)
	}
	if s := b.Stats(); s.FanoutLag != uint64(fan) {
		t.Fatalf("stats %+v disagree with observer %d", s, fan)
	}
	if got := b.inBytes.Load(); got != 0 {
		t.Fatalf("%d bytes still counted as queued", got)
	}
}

// Shutdown gives queued messages one bounded chance, however many batches
// are left and however slowly Redis answers; what is not published is
// counted as dropped. (A batch takes about half a second here: flushing
// them all would take about 10 s.)
func TestShutdownFlushIsBounded(t *testing.T) {
	p := startSlowProxy(t, redisURL())
	p.setDelay(100 * time.Millisecond)
	b, err := New(Options{URL: p.URL(), Namespace: namespace(), Local: newSink(), Caches: newSink()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const total = 5000
	for i := range total {
		b.Publish(context.Background(), event(i, 1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	// The batch in flight at the stop has its own publishTimeout.
	if d := time.Since(start); d > flushTimeout+publishTimeout+500*time.Millisecond {
		t.Fatalf("shutdown flush took %v", d)
	}
	if s := b.Stats(); s.Published+s.PublishDropped != total || s.PublishDropped == 0 {
		t.Fatalf("stats %+v for %d queued events", s, total)
	}
}

// A message handed to the bus while it stops is either published or
// counted as dropped, never left in the queue uncounted.
func TestPublishRacingStopIsCounted(t *testing.T) {
	b, err := New(Options{URL: redisURL(), Namespace: namespace(), Local: newSink(), Caches: newSink()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	inside := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b.testBeforeQueue = func() {
		once.Do(func() {
			close(inside)
			<-release
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	published := make(chan struct{})
	go func() { defer close(published); b.Publish(context.Background(), event(1, 1)) }()
	<-inside // past the stopped check, not yet queued
	cancel()
	select {
	case <-done:
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	<-published
	<-done
	if s := b.Stats(); s.Published+s.PublishDropped != 1 {
		t.Fatalf("one event handed to the bus; stats %+v", s)
	}
}
