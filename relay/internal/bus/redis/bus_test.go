package redisbus

import (
	"context"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

var redisURL = relaytest.RedisURL

func TestChannelEventReachesOtherNodeOnceAndNotItself(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	b := startNode(t, redisURL(), ns, nil)
	a.Interest("chan-1", true)
	b.Interest("chan-1", true)
	relaytest.WaitFor(t, 5*time.Second, "both nodes on the channel topic", func() bool {
		return numsub(t, rc, a.ChannelTopic("chan-1")) == 2
	})

	ev := event(1, 9, "chan-1")
	a.Publish(context.Background(), ev)
	relaytest.WaitFor(t, 5*time.Second, "delivery on b", func() bool { return len(b.sink.ids()) == 1 })
	// A later event proves nothing else is in flight for the first one.
	a.Publish(context.Background(), event(2, 9, "chan-1"))
	relaytest.WaitFor(t, 5*time.Second, "second delivery on b", func() bool { return len(b.sink.ids()) == 2 })
	if got := b.sink.ids(); !slices.Equal(got, []string{ev.ID, event(2, 9).ID}) {
		t.Fatalf("b got %v", got)
	}
	if got := a.sink.ids(); len(got) != 0 {
		t.Fatalf("a received its own echo: %v", got)
	}
	if p, _, _ := a.obs.get(); p != 2 {
		t.Fatalf("published count %d, want 2", p)
	}
	if s := b.Stats(); s.Received != 2 || s.Duplicates != 0 {
		t.Fatalf("b stats %+v", s)
	}
}

func TestGlobalInterestGetsChannelAndPlainEventsOnce(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	b := startNode(t, redisURL(), ns, nil)
	b.Interest("chan-1", true)
	b.Interest("", true)
	relaytest.WaitFor(t, 5*time.Second, "b on the global topic", func() bool { return numsub(t, rc, b.GlobalTopic()) == 1 })
	// In global mode channel topics would only bring second copies.
	relaytest.WaitFor(t, 5*time.Second, "b off the channel topic", func() bool { return numsub(t, rc, b.ChannelTopic("chan-1")) == 0 })

	a.Publish(context.Background(), event(1, 9, "chan-1"))
	a.Publish(context.Background(), event(2, 1))
	a.Publish(context.Background(), event(3, 9, "chan-2", "chan-1", "chan-2"))
	relaytest.WaitFor(t, 5*time.Second, "three deliveries", func() bool { return len(b.sink.ids()) >= 3 })
	time.Sleep(100 * time.Millisecond)
	if got := b.sink.ids(); len(got) != 3 {
		t.Fatalf("b got %d deliveries, want 3: %v", len(got), got)
	}
}

// A node switching between global and per-channel mode while events flow
// must deliver every event exactly once.
func TestModeSwitchesDeliverExactlyOnce(t *testing.T) {
	ns := namespace()
	a := startNode(t, redisURL(), ns, nil)
	b := startNode(t, redisURL(), ns, nil)
	rc := admin(t, redisURL())
	b.Interest("chan-1", true)
	relaytest.WaitFor(t, 5*time.Second, "b on the channel topic", func() bool { return numsub(t, rc, b.ChannelTopic("chan-1")) == 1 })

	const n = 3000
	stop := make(chan struct{})
	toggled := make(chan int)
	go func() {
		on, count := false, 0
		for {
			select {
			case <-stop:
				b.Interest("", false)
				toggled <- count
				return
			case <-time.After(2 * time.Millisecond):
			}
			on = !on
			b.Interest("", on)
			count++
		}
	}()
	want := make([]string, 0, n)
	for i := range n {
		ev := event(i, 9, "chan-1")
		want = append(want, ev.ID)
		a.Publish(context.Background(), ev)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(b.sink.ids()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered; publisher %+v, receiver %+v", len(b.sink.ids()), n, a.Stats(), b.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if c := <-toggled; c < 10 {
		t.Fatalf("only %d mode switches happened", c)
	}
	time.Sleep(100 * time.Millisecond)
	got := b.sink.ids()
	if len(got) != n {
		t.Fatalf("got %d deliveries for %d events", len(got), n)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatal("delivered ids differ from published ids")
	}
	t.Logf("duplicates dropped: %d", b.Stats().Duplicates)
}

func TestNamespacesAreIsolated(t *testing.T) {
	a := startNode(t, redisURL(), namespace(), nil)
	other := startNode(t, redisURL(), namespace(), nil)
	same := startNode(t, redisURL(), a.opt.Namespace, nil)
	rc := admin(t, redisURL())
	other.Interest("", true)
	same.Interest("", true)
	relaytest.WaitFor(t, 5*time.Second, "subscriptions", func() bool {
		return numsub(t, rc, other.GlobalTopic()) == 1 && numsub(t, rc, same.GlobalTopic()) == 1
	})
	a.Publish(context.Background(), event(1, 1))
	if err := a.PublishInvalidation(context.Background(), access.Invalidation{Channel: "c", Pubkeys: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, 5*time.Second, "same-namespace delivery", func() bool {
		same.sink.mu.Lock()
		defer same.sink.mu.Unlock()
		return len(same.sink.events) == 1 && len(same.sink.invs) == 1
	})
	time.Sleep(100 * time.Millisecond)
	other.sink.mu.Lock()
	defer other.sink.mu.Unlock()
	if len(other.sink.events) != 0 || len(other.sink.invs) != 0 {
		t.Fatalf("another namespace saw traffic: %d events, %d invalidations", len(other.sink.events), len(other.sink.invs))
	}
}

func TestInvalidationsReachOtherNodesOnly(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	b := startNode(t, redisURL(), ns, nil)
	relaytest.WaitFor(t, 5*time.Second, "invalidation subscriptions", func() bool { return numsub(t, rc, a.InvalidationTopic()) == 2 })
	inv := access.Invalidation{Channel: "chan-1", Pubkeys: []string{"aa", "bb"}}
	if err := a.PublishInvalidation(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, 5*time.Second, "invalidation on b", func() bool {
		b.sink.mu.Lock()
		defer b.sink.mu.Unlock()
		return len(b.sink.invs) == 1
	})
	b.sink.mu.Lock()
	got := b.sink.invs[0]
	b.sink.mu.Unlock()
	if got.Channel != inv.Channel || !slices.Equal(got.Pubkeys, inv.Pubkeys) {
		t.Fatalf("b applied %+v, want %+v", got, inv)
	}
	time.Sleep(50 * time.Millisecond)
	a.sink.mu.Lock()
	defer a.sink.mu.Unlock()
	if len(a.sink.invs) != 0 {
		t.Fatalf("a applied its own invalidation again: %+v", a.sink.invs)
	}
}

// An invalidation published before an event is applied before the event
// is delivered on the other node.
func TestInvalidationOrderedBeforeLaterEvents(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	order := make(chan string, 100)
	b := startNode(t, redisURL(), ns, func(o *Options) {
		o.Local = orderedLocal{order}
		o.Caches = orderedCaches{order}
	})
	b.Interest("chan-1", true)
	relaytest.WaitFor(t, 5*time.Second, "b subscribed", func() bool { return numsub(t, rc, b.ChannelTopic("chan-1")) == 1 })
	drain(order)
	for i := range 20 {
		_ = a.PublishInvalidation(context.Background(), access.Invalidation{Channel: "chan-1", Pubkeys: []string{"p"}})
		a.Publish(context.Background(), event(i, 9, "chan-1"))
	}
	for i := range 40 {
		select {
		case got := <-order:
			want := "inv"
			if i%2 == 1 {
				want = "ev"
			}
			if got != want {
				t.Fatalf("message %d was %s, want %s", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d messages arrived", i)
		}
	}
}

type orderedLocal struct{ ch chan string }

func (o orderedLocal) Publish(context.Context, *nostr.Event) { o.ch <- "ev" }

type orderedCaches struct{ ch chan string }

func (o orderedCaches) ApplyInvalidation(access.Invalidation) { o.ch <- "inv" }
func (o orderedCaches) InvalidateAll()                        {}

func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestTopicsFollowLocalInterest(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, func(o *Options) { o.Linger = 300 * time.Millisecond })
	b := startNode(t, redisURL(), ns, nil)
	relaytest.WaitFor(t, 5*time.Second, "idle subscriptions", func() bool { return numsub(t, rc, a.InvalidationTopic()) == 2 })
	if got := topics(t, rc, ns); !slices.Equal(got, []string{a.InvalidationTopic()}) {
		t.Fatalf("idle nodes subscribed to %v", got)
	}

	a.Interest("chan-1", true)
	relaytest.WaitFor(t, 5*time.Second, "a on chan-1", func() bool { return numsub(t, rc, a.ChannelTopic("chan-1")) == 1 })
	if numsub(t, rc, a.ChannelTopic("chan-2")) != 0 || numsub(t, rc, a.GlobalTopic()) != 0 {
		t.Fatal("a subscribed to topics it has no subscriber for")
	}
	_ = b

	// Released only after the linger, and a quick return cancels it.
	a.Interest("chan-1", false)
	a.Interest("chan-1", true)
	time.Sleep(500 * time.Millisecond)
	if numsub(t, rc, a.ChannelTopic("chan-1")) != 1 {
		t.Fatal("a topic in use was released")
	}
	start := time.Now()
	a.Interest("chan-1", false)
	time.Sleep(100 * time.Millisecond)
	if numsub(t, rc, a.ChannelTopic("chan-1")) != 1 {
		t.Fatal("topic released before the linger")
	}
	relaytest.WaitFor(t, 5*time.Second, "chan-1 released", func() bool { return numsub(t, rc, a.ChannelTopic("chan-1")) == 0 })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("released after %v, before the 300ms linger", d)
	}
	if got := topics(t, rc, ns); !slices.Equal(got, []string{a.InvalidationTopic()}) {
		t.Fatalf("left subscribed to %v", got)
	}
}

func TestTraceContextTravels(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	a := startNode(t, redisURL(), ns, func(o *Options) { o.Tracer = tp.Tracer("test") })
	b := startNode(t, redisURL(), ns, nil)
	b.Interest("", true)
	relaytest.WaitFor(t, 5*time.Second, "b subscribed", func() bool { return numsub(t, rc, b.GlobalTopic()) == 1 })

	ctx, span := tp.Tracer("test").Start(context.Background(), "ws.event")
	a.Publish(ctx, event(1, 1))
	span.End()
	relaytest.WaitFor(t, 5*time.Second, "delivery", func() bool { return len(b.sink.ids()) == 1 })
	b.sink.mu.Lock()
	got := trace.SpanContextFromContext(b.sink.ctxs[0])
	b.sink.mu.Unlock()
	if got.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("receiving trace %s, publisher trace %s", got.TraceID(), span.SpanContext().TraceID())
	}
	if !got.IsRemote() {
		t.Fatal("received span context is not marked remote")
	}
	var publishSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "redis.publish" {
			publishSpan = s
		}
	}
	if publishSpan == nil || publishSpan.Parent().SpanID() != span.SpanContext().SpanID() {
		t.Fatal("no redis.publish span under the publishing span")
	}
	if got.SpanID() != publishSpan.SpanContext().SpanID() {
		t.Fatal("the receiving node's parent is not the redis.publish span")
	}
}

// A consumer that cannot keep up loses messages, counted, and never holds
// up the reader: invalidations behind a stuck fan-out are dropped, counted
// and answered with a cache flush.
func TestLaggingConsumerDropsAndCounts(t *testing.T) {
	ns := namespace()
	rc := admin(t, redisURL())
	a := startNode(t, redisURL(), ns, nil)
	block := make(chan struct{})
	b := startNode(t, redisURL(), ns, func(o *Options) { o.InboundQueue = 4 })
	b.sink.block = block
	b.Interest("", true)
	relaytest.WaitFor(t, 5*time.Second, "b subscribed", func() bool { return numsub(t, rc, b.GlobalTopic()) == 1 })
	flushesBefore := b.sink.flushCount()

	for i := range 50 {
		a.Publish(context.Background(), event(i, 1))
	}
	for range 5 {
		_ = a.PublishInvalidation(context.Background(), access.Invalidation{Channel: "c", Pubkeys: []string{"p"}})
	}
	relaytest.WaitFor(t, 5*time.Second, "lag counted", func() bool {
		_, fan, inv := b.obs.get()
		return fan > 0 && inv > 0
	})
	close(block)
	_, fan, inv := b.obs.get()
	relaytest.WaitFor(t, 5*time.Second, "survivors delivered", func() bool { return len(b.sink.ids())+fan >= 50 })
	if got := len(b.sink.ids()); got+fan != 50 {
		t.Fatalf("%d delivered + %d dropped != 50", got, fan)
	}
	if s := b.Stats(); s.FanoutLag != uint64(fan) || s.InvalidLag != uint64(inv) {
		t.Fatalf("stats %+v disagree with observer %d/%d", s, fan, inv)
	}
	relaytest.WaitFor(t, 5*time.Second, "cache flush after lost invalidation", func() bool { return b.sink.flushCount() > flushesBefore })
}

func TestPublishQueueFullDropsWithoutBlocking(t *testing.T) {
	// Not running: nothing drains the queue.
	b, err := New(Options{URL: redisURL(), Namespace: namespace(), Local: newSink(), Caches: newSink(), OutboundQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	for i := range 10 {
		b.Publish(context.Background(), event(i, 1))
	}
	if err := b.PublishInvalidation(context.Background(), access.Invalidation{Channel: "c"}); err == nil {
		t.Fatal("invalidation accepted by a full queue")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("publishing to a full queue took %v", d)
	}
	if got := b.Stats().PublishDropped; got != 9 {
		t.Fatalf("dropped %d, want 9", got)
	}
}

func TestPoolStats(t *testing.T) {
	n := startNode(t, redisURL(), namespace(), func(o *Options) { o.PoolSize = 7 })
	n.Publish(context.Background(), event(1, 1))
	relaytest.WaitFor(t, 5*time.Second, "publish", func() bool { return n.Stats().Published == 1 })
	size, idle, max, waiting := n.PoolStats()
	if max != 7 || size < 1 || idle > size || waiting != 0 {
		t.Fatalf("pool stats size=%d idle=%d max=%d waiting=%d", size, idle, max, waiting)
	}
}

func TestBadURL(t *testing.T) {
	if _, err := New(Options{URL: "http://x", Local: newSink(), Caches: newSink()}); err == nil {
		t.Fatal("bad URL accepted")
	}
	if _, err := New(Options{URL: redisURL()}); err == nil {
		t.Fatal("missing Local and Caches accepted")
	}
}
