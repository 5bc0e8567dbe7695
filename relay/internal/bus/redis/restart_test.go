package redisbus

import (
	"context"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// Redis going away and coming back: publishing never blocks, both nodes
// reconnect by themselves, flush their caches, and cross-node delivery
// resumes. goleak (TestMain) checks nothing is left running.
func TestRedisRestart(t *testing.T) {
	srv := relaytest.StartRedisServer(t)
	ns := namespace()
	a := startNode(t, srv.URL(), ns, nil)
	b := startNode(t, srv.URL(), ns, nil)
	b.Interest("chan-1", true)
	rc := admin(t, srv.URL())
	relaytest.WaitFor(t, 5*time.Second, "b subscribed", func() bool { return numsub(t, rc, b.ChannelTopic("chan-1")) == 1 })
	a.Publish(context.Background(), event(0, 9, "chan-1"))
	relaytest.WaitFor(t, 5*time.Second, "delivery before the outage", func() bool { return len(b.sink.ids()) == 1 })
	connects := b.Stats().Connects
	flushes := b.sink.flushCount()

	srv.Stop()
	start := time.Now()
	for i := 1; i <= 200; i++ {
		a.Publish(context.Background(), event(i, 9, "chan-1"))
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("publishing with Redis down took %v", d)
	}
	time.Sleep(500 * time.Millisecond) // let both nodes notice and back off

	srv.Start()
	relaytest.WaitFor(t, 15*time.Second, "b to reconnect", func() bool { return b.Stats().Connects > connects })
	if b.sink.flushCount() <= flushes {
		t.Fatal("no cache flush after reconnecting")
	}
	relaytest.WaitFor(t, 15*time.Second, "b resubscribed", func() bool { return numsub(t, rc, b.ChannelTopic("chan-1")) == 1 })
	before := len(b.sink.ids())
	i := 1000
	relaytest.WaitFor(t, 15*time.Second, "cross-node delivery to resume", func() bool {
		i++
		a.Publish(context.Background(), event(i, 9, "chan-1"))
		time.Sleep(20 * time.Millisecond)
		return len(b.sink.ids()) > before
	})
	if a.Stats().PublishDropped == 0 {
		t.Fatal("events published during the outage were not counted as dropped")
	}
	a.stop()
	b.stop()
}
