package redisbus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sink records what a bus hands to local fan-out and to the caches.
type sink struct {
	mu       sync.Mutex
	events   []*nostr.Event
	ctxs     []context.Context
	invs     []access.Invalidation
	flushes  int
	block    chan struct{} // when set, Publish waits on it
	notified chan struct{}
}

func newSink() *sink { return &sink{notified: make(chan struct{}, 1)} }

func (s *sink) Publish(ctx context.Context, ev *nostr.Event) {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.ctxs = append(s.ctxs, ctx)
	s.mu.Unlock()
	s.notify()
}

func (s *sink) ApplyInvalidation(inv access.Invalidation) {
	s.mu.Lock()
	s.invs = append(s.invs, inv)
	s.mu.Unlock()
	s.notify()
}

func (s *sink) InvalidateAll() {
	s.mu.Lock()
	s.flushes++
	s.mu.Unlock()
	s.notify()
}

func (s *sink) notify() {
	select {
	case s.notified <- struct{}{}:
	default:
	}
}

// ids returns the ids received so far, in order.
func (s *sink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.events))
	for i, e := range s.events {
		out[i] = e.ID
	}
	return out
}

func (s *sink) flushCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushes
}

// counter is an Observer that counts.
type counter struct {
	mu                        sync.Mutex
	published, fanLag, invLag int
}

func (c *counter) Published()          { c.mu.Lock(); c.published++; c.mu.Unlock() }
func (c *counter) FanoutLagged()       { c.mu.Lock(); c.fanLag++; c.mu.Unlock() }
func (c *counter) InvalidationLagged() { c.mu.Lock(); c.invLag++; c.mu.Unlock() }

func (c *counter) get() (published, fanLag, invLag int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.published, c.fanLag, c.invLag
}

// node is a bus under test with its sink and observer.
type node struct {
	*Bus
	sink *sink
	obs  *counter
	stop func()
}

// startNode runs a bus on url in namespace ns; tweak adjusts its options.
func startNode(t *testing.T, url, ns string, tweak func(*Options)) *node {
	t.Helper()
	sk := newSink()
	obs := &counter{}
	opt := Options{URL: url, Namespace: ns, PoolSize: 4, Local: sk, Caches: sk, Observer: obs,
		Linger: -1, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	if tweak != nil {
		tweak(&opt)
	}
	b, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	var once sync.Once
	n := &node{Bus: b, sink: sk, obs: obs}
	n.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := b.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(n.stop)
	return n
}

// admin is a plain client to inspect Redis.
func admin(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// namespace returns a fresh namespace so parallel runs never collide.
func namespace() string { return relaytest.RandomName("t") }

// numsub is how many connections are subscribed to topic.
func numsub(t *testing.T, c *redis.Client, topic string) int64 {
	t.Helper()
	m, err := c.PubSubNumSub(context.Background(), topic).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m[topic]
}

// topics lists the namespace's topics with at least one subscriber.
func topics(t *testing.T, c *redis.Client, ns string) []string {
	t.Helper()
	got, err := c.PubSubChannels(context.Background(), "buzz:"+ns+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// event builds a minimal event; the bus does not check signatures, and
// the ids only need to be distinct.
func event(i int, kind int, channels ...string) *nostr.Event {
	ev := &nostr.Event{ID: fmt.Sprintf("%064x", i), PubKey: fmt.Sprintf("%064x", 7), CreatedAt: time.Now().Unix(),
		Kind: kind, Tags: [][]string{}, Content: "m" + strconv.Itoa(i), Sig: fmt.Sprintf("%0128x", 9)}
	for _, c := range channels {
		ev.Tags = append(ev.Tags, []string{"h", c})
	}
	return ev
}
