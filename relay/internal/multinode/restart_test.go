package multinode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// redisServer is a redis-server owned by one test, on its own port, so the
// test can stop and restart it.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedisServer(t *testing.T) *redisServer {
	r := &redisServer{t: t, port: relaytest.FreePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stderr = os.Stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	waitFor(r.t, 10*time.Second, "redis-server", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// Redis killed and restarted under running nodes: local delivery never
// stops, cross-node delivery resumes by itself, no node exits.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	c := newCluster(t, srv.url())
	rc := c.redis()
	a, b := c.start("a", nil), c.start("b", nil)

	author := relaytest.NewUser(t)
	pa := dial(t, a.url, author)
	pb := dial(t, b.url, author)
	x := pa.createChannel("open")
	sa := dial(t, a.url, relaytest.NewUser(t))
	sa.req("x", channelFilter(x))
	sb := dial(t, b.url, relaytest.NewUser(t))
	sb.req("x", channelFilter(x))
	c.waitSubscribed(rc, "channel:"+x, 2)
	pa.post(x, "warm")
	sb.await("x", "warm")

	srv.stop()
	for i := range 5 {
		msg := fmt.Sprintf("during outage %d", i)
		start := time.Now()
		pa.post(x, msg) // fails the test unless accepted within 5 s
		if d := time.Since(start); d > time.Second {
			t.Errorf("publishing with Redis down took %v", d)
		}
		sa.await("x", msg) // local delivery goes on
	}
	a.alive()
	b.alive()

	srv.start()
	// Each direction resumes on its own.
	resumed := func(from *client, to *client, label string) {
		t.Helper()
		i := 0
		waitFor(t, 20*time.Second, "cross-node delivery "+label, func() bool {
			i++
			msg := fmt.Sprintf("%s %d", label, i)
			from.post(x, msg)
			time.Sleep(50 * time.Millisecond)
			return to.copies("x", msg) == 1
		})
	}
	resumed(pa, sb, "a to b")
	resumed(pb, sa, "b to a")
	a.alive()
	b.alive()
	for _, n := range []*node{a, b} {
		if !n.logged("redis bus: reconnected, membership caches flushed") {
			t.Errorf("node %s did not log its reconnection", n.name)
		}
	}
}
