package multinode

import (
	"fmt"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// Redis killed and restarted under running nodes: local delivery never
// stops, cross-node delivery resumes by itself, no node exits.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := relaytest.StartRedisServer(t)
	c := newCluster(t, srv.URL())
	rc := c.redis()
	a, b := c.start("a", nil), c.start("b", nil)

	author := relaytest.NewUser(t)
	pa := dial(t, a.URL, author)
	pb := dial(t, b.URL, author)
	x := pa.createChannel("open")
	sa := dial(t, a.URL, relaytest.NewUser(t))
	sa.req("x", channelFilter(x))
	sb := dial(t, b.URL, relaytest.NewUser(t))
	sb.req("x", channelFilter(x))
	c.waitSubscribed(rc, "channel:"+x, 2)
	pa.post(x, "warm")
	sb.await("x", "warm")

	srv.Stop()
	for i := range 5 {
		msg := fmt.Sprintf("during outage %d", i)
		start := time.Now()
		pa.post(x, msg) // fails the test unless accepted within 5 s
		if d := time.Since(start); d > time.Second {
			t.Errorf("publishing with Redis down took %v", d)
		}
		sa.await("x", msg) // local delivery goes on
	}
	a.Alive()
	b.Alive()

	srv.Start()
	// Each direction resumes on its own.
	resumed := func(from *client, to *client, label string) {
		t.Helper()
		i := 0
		relaytest.WaitFor(t, 20*time.Second, "cross-node delivery "+label, func() bool {
			i++
			msg := fmt.Sprintf("%s %d", label, i)
			from.post(x, msg)
			time.Sleep(50 * time.Millisecond)
			return to.copies("x", msg) == 1
		})
	}
	resumed(pa, sb, "a to b")
	resumed(pb, sa, "b to a")
	a.Alive()
	b.Alive()
	for _, n := range []*node{a, b} {
		if !n.Logged("redis bus: reconnected, membership caches flushed") {
			t.Errorf("node %s did not log its reconnection", n.name)
		}
	}
}
