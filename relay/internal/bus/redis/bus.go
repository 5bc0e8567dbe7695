package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Local delivers an event received from another node to this node's
// subscribers, under a fan-out span started from ctx (which carries the
// publisher's trace context). The server passes its local publisher.
type Local interface {
	Publish(ctx context.Context, ev *nostr.Event)
}

// Caches is the part of access control the bus keeps coherent across nodes.
type Caches interface {
	ApplyInvalidation(inv access.Invalidation)
	InvalidateAll()
}

// Observer receives the bus's measurements; nil is allowed.
type Observer interface {
	// Published is called once per event published to Redis.
	Published()
	// FanoutLagged is called per received event dropped by a full hand-off.
	FanoutLagged()
	// InvalidationLagged is called per received invalidation dropped by a
	// full hand-off.
	InvalidationLagged()
}

// Options configures a Bus. URL, Local and Caches are required.
type Options struct {
	URL       string // redis:// or rediss://
	PoolSize  int    // command pool size (BUZZ_REDIS_POOL_SIZE); <= 0 means 16
	Namespace string // BUZZ_REDIS_NAMESPACE; empty means "default"

	Local    Local
	Caches   Caches
	Observer Observer
	Tracer   trace.Tracer // for redis.publish spans; nil means none
	Log      *slog.Logger // nil means discard

	// Linger is how long a topic stays subscribed after its last local
	// subscriber went away (default 2 s; negative means release at once).
	Linger time.Duration
	// InboundQueue bounds the hand-off from the Redis reader to fan-out
	// (default 10 000); OutboundQueue bounds the publish queue (default
	// 10 000).
	InboundQueue, OutboundQueue int
	// InboundBytes and OutboundBytes bound the same queues by the size of
	// what they hold (default 64 MiB each): a count alone would let large
	// events pile up gigabytes.
	InboundBytes, OutboundBytes int64
	// BackoffMin and BackoffMax bound the reconnect delay (default 100 ms
	// and 5 s).
	BackoffMin, BackoffMax time.Duration
	// PingEvery is how often the pub/sub connection is probed; a connection
	// silent for three intervals is considered dead (default 5 s).
	PingEvery time.Duration
}

// Stats are the bus's own counters, for logs and tests.
type Stats struct {
	Published      uint64 // events published to Redis
	PublishDropped uint64 // events and invalidations that could not be published
	Received       uint64 // events from other nodes handed to local fan-out
	Duplicates     uint64 // copies dropped by the exactly-once window
	FanoutLag      uint64 // received events dropped by a full hand-off
	InvalidLag     uint64 // received invalidations dropped by a full hand-off
	Invalidations  uint64 // invalidations from other nodes applied
	Connects       uint64 // successful pub/sub (re)connections
}

// Bus is one node's connection to the multi-node bus. Create it with New,
// run it with Run, and Close it after Run returned.
type Bus struct {
	opt    Options
	log    *slog.Logger
	obs    Observer
	tracer trace.Tracer
	client *redis.Client

	id         string
	selfPrefix string // envelope prefix of this node's own messages
	prefix     string // buzz:<ns>:
	globalT    string
	invT       string

	out  chan outbound // publish queue, in acceptance order
	in   chan inbound  // hand-off from the reader to the worker
	wake chan struct{} // interest changed

	mu   sync.Mutex
	want map[string]time.Time // channel ("" = global) → zero while in use, else release time

	lostInv  atomic.Bool // an invalidation was dropped: flush caches
	running  atomic.Bool
	stopped  atomic.Bool
	pubState atomic.Bool // true while publishing fails (logged on change)

	// Confirmation state of the live pub/sub session, so Interest can wait
	// until a new topic is really subscribed.
	up      bool            // a session is connected
	subbed  map[string]bool // topics the session asked Redis to subscribe
	pending map[string]int  // SUBSCRIBE/UNSUBSCRIBE replies still due, per topic
	changed chan struct{}   // closed and replaced when that state changes
	pruneAt int             // size of want at which released topics are pruned

	outBytes, inBytes atomic.Int64 // bytes in out and in
	enqueuing         atomic.Int64 // Publish calls between the stopped check and the queue

	// testBeforeQueue, set only by tests, runs between enqueue's stopped
	// check and the send to the queue.
	testBeforeQueue                                                       func()
	published, pubDropped, received, dups, fanLag, invLag, invs, connects atomic.Uint64
}

type nopObserver struct{}

func (nopObserver) Published()          {}
func (nopObserver) FanoutLagged()       {}
func (nopObserver) InvalidationLagged() {}

// New validates opt and builds the bus; it does not connect (Run does, and
// keeps retrying, so a relay starts even while Redis is down).
func New(opt Options) (*Bus, error) {
	if opt.Local == nil || opt.Caches == nil {
		return nil, errors.New("redisbus: Local and Caches are required")
	}
	ropt, err := redis.ParseURL(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("redisbus: REDIS_URL: %w", err)
	}
	if opt.PoolSize <= 0 {
		opt.PoolSize = 16
	}
	if opt.Namespace == "" {
		opt.Namespace = "default"
	}
	if opt.Linger == 0 {
		opt.Linger = 2 * time.Second
	}
	if opt.InboundQueue <= 0 {
		opt.InboundQueue = 10000
	}
	if opt.OutboundQueue <= 0 {
		opt.OutboundQueue = 10000
	}
	if opt.InboundBytes <= 0 {
		opt.InboundBytes = 64 << 20
	}
	if opt.OutboundBytes <= 0 {
		opt.OutboundBytes = 64 << 20
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 100 * time.Millisecond
	}
	if opt.BackoffMax < opt.BackoffMin {
		opt.BackoffMax = max(5*time.Second, opt.BackoffMin)
	}
	if opt.PingEvery <= 0 {
		opt.PingEvery = 5 * time.Second
	}
	// Short timeouts and few retries: a Redis outage must show up as a
	// quick failure (dropped and counted), never as ingest or shutdown
	// waiting on a dead socket.
	ropt.PoolSize = opt.PoolSize
	// Pipelines share the one pool of BUZZ_REDIS_POOL_SIZE, so the pool
	// gauges describe every command connection.
	ropt.PipelinePoolSize = -1
	ropt.DialTimeout = 2 * time.Second
	ropt.ReadTimeout = 2 * time.Second
	ropt.WriteTimeout = 2 * time.Second
	ropt.PoolTimeout = 2 * time.Second
	ropt.ContextTimeoutEnabled = true
	ropt.MaxRetries = 1
	ropt.DialerRetries = 1
	ropt.DisableIdentity = true
	ropt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	b := &Bus{
		opt:    opt,
		log:    opt.Log,
		obs:    opt.Observer,
		tracer: opt.Tracer,
		id:     newNodeID(),
		prefix: "buzz:" + opt.Namespace + ":",
		out:    make(chan outbound, opt.OutboundQueue),
		in:     make(chan inbound, opt.InboundQueue),
		wake:   make(chan struct{}, 1),
		want:   make(map[string]time.Time),

		subbed:  make(map[string]bool),
		pending: make(map[string]int),
		changed: make(chan struct{}),
		pruneAt: minPrune,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.obs == nil {
		b.obs = nopObserver{}
	}
	if b.tracer == nil {
		b.tracer = noop.NewTracerProvider().Tracer("")
	}
	b.globalT = b.prefix + "global"
	b.invT = b.prefix + "cache-invalidate"
	b.selfPrefix = envelopePrefix(b.id)
	b.client = redis.NewClient(ropt)
	return b, nil
}

func newNodeID() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// ChannelTopic is the topic of channel's events.
func (b *Bus) ChannelTopic(channel string) string { return b.prefix + "channel:" + channel }

// GlobalTopic is the topic every event is published to.
func (b *Bus) GlobalTopic() string { return b.globalT }

// InvalidationTopic is the topic of cache invalidations.
func (b *Bus) InvalidationTopic() string { return b.invT }

// activateTimeout bounds how long Interest waits for a new subscription.
const activateTimeout = time.Second

// minPrune is the size of want below which released topics are left for the
// session to forget.
const minPrune = 1024

// Interest is the fan-out index's interest hook: active=true when channel
// ("" = global) gains its first local subscription, false when it loses its
// last. The bus goroutine talks to Redis; but active=true waits (at most
// activateTimeout, and not at all while Redis is unreachable) until Redis
// confirmed a subscription covering channel. The ws layer subscribes and
// then reads the store, so an event another node stores after that read
// must already be on its way here.
func (b *Bus) Interest(channel string, active bool) {
	now := time.Now()
	b.mu.Lock()
	if active {
		b.want[channel] = time.Time{}
	} else if _, ok := b.want[channel]; ok {
		b.want[channel] = now.Add(b.opt.Linger)
	}
	b.pruneLocked(now)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	if active {
		b.awaitCovered(channel)
	}
}

// pruneLocked forgets released topics whose linger has passed once want has
// doubled since the last pass: the session does it too, but only while
// connected, and the map must stay bounded through an outage. b.mu is held.
func (b *Bus) pruneLocked(now time.Time) {
	if len(b.want) < b.pruneAt {
		return
	}
	for ch, until := range b.want {
		if !until.IsZero() && !until.After(now) {
			delete(b.want, ch)
		}
	}
	b.pruneAt = max(minPrune, 2*len(b.want))
}

// awaitCovered waits until the live session has a confirmed subscription
// covering channel, the session ends, or activateTimeout passes.
func (b *Bus) awaitCovered(channel string) {
	var timeout <-chan time.Time
	for {
		b.mu.Lock()
		done := !b.up || b.stopped.Load() || b.coveredLocked(channel)
		changed := b.changed
		b.mu.Unlock()
		if done {
			return
		}
		if timeout == nil {
			t := time.NewTimer(activateTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			b.log.Debug("redis bus: subscription not confirmed in time", "channel", channel)
			return
		}
	}
}

// coveredLocked reports whether a confirmed subscription brings channel's
// events: the global topic, or the channel's own. b.mu is held.
func (b *Bus) coveredLocked(channel string) bool {
	if b.confirmedLocked(b.globalT) {
		return true
	}
	return channel != "" && b.confirmedLocked(b.ChannelTopic(channel))
}

// confirmedLocked: the session asked for topic and Redis has answered every
// command about it, so the last one, a SUBSCRIBE, is in effect.
func (b *Bus) confirmedLocked(topic string) bool {
	return b.subbed[topic] && b.pending[topic] == 0
}

// changedLocked wakes every Interest waiting on the confirmation state.
// b.mu is held.
func (b *Bus) changedLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Publish queues ev for the other nodes, keeping the trace context of ctx.
// It never blocks: when the queue is full the event is dropped and counted.
func (b *Bus) Publish(ctx context.Context, ev *nostr.Event) {
	b.enqueue(outbound{ev: ev, sc: trace.SpanContextFromContext(ctx), size: eventSize(ev)})
}

// PublishInvalidation queues inv for the other nodes (access.Publisher). It
// returns an error, without blocking, when the queue is full.
func (b *Bus) PublishInvalidation(_ context.Context, inv access.Invalidation) error {
	if !b.enqueue(outbound{inv: &inv, size: invalidationSize(&inv)}) {
		return errors.New("redisbus: publish queue full")
	}
	return nil
}

func (b *Bus) enqueue(o outbound) bool {
	// Run waits for enqueuing to reach zero after setting stopped, so a
	// message that passed the check below is queued before Run's last drain.
	b.enqueuing.Add(1)
	defer b.enqueuing.Add(-1)
	if b.stopped.Load() {
		b.pubDropped.Add(1)
		return false
	}
	if b.testBeforeQueue != nil {
		b.testBeforeQueue()
	}
	if b.outBytes.Add(o.size) > b.opt.OutboundBytes {
		b.outBytes.Add(-o.size)
		b.queueFull()
		return false
	}
	select {
	case b.out <- o:
		return true
	default:
		b.outBytes.Add(-o.size)
		b.queueFull()
		return false
	}
}

func (b *Bus) queueFull() {
	if n := b.pubDropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8, ...
		b.log.Warn("redis bus: publish queue full, message dropped", "dropped_total", n)
	}
}

// dequeued accounts for o leaving the publish queue.
func (b *Bus) dequeued(o outbound) outbound {
	b.outBytes.Add(-o.size)
	return o
}

// dropQueued empties the publish queue, counting what it held as dropped.
func (b *Bus) dropQueued() {
	for {
		select {
		case o := <-b.out:
			b.dequeued(o)
			b.pubDropped.Add(1)
		default:
			return
		}
	}
}

// PoolStats reports the command pool for the pool gauges: size = open
// connections, idle = idle ones, max = the configured pool size, waiting =
// callers currently waiting for a connection (go-redis PendingRequests, a
// live count; WaitCount is a cumulative total and not a gauge). The pub/sub
// connection lives in its own pool and is not counted.
func (b *Bus) PoolStats() (size, idle, max, waiting int64) {
	s := b.client.PoolStats()
	return int64(s.TotalConns), int64(s.IdleConns), int64(b.opt.PoolSize), int64(s.PendingRequests)
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Published: b.published.Load(), PublishDropped: b.pubDropped.Load(),
		Received: b.received.Load(), Duplicates: b.dups.Load(),
		FanoutLag: b.fanLag.Load(), InvalidLag: b.invLag.Load(),
		Invalidations: b.invs.Load(), Connects: b.connects.Load(),
	}
}

// Run connects, subscribes as local interest requires, publishes queued
// messages and delivers received ones until ctx ends. It returns once all
// of its goroutines have ended; queued messages are given a last, short
// chance to be published.
func (b *Bus) Run(ctx context.Context) {
	if !b.running.CompareAndSwap(false, true) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); b.publishLoop(ctx) }()
	go func() { defer wg.Done(); b.workLoop(ctx) }()
	go func() { defer wg.Done(); b.connLoop(ctx) }()
	wg.Wait()
	b.stopped.Store(true)
	// A Publish that passed the stopped check just before the publisher
	// stopped may still be queueing (never for long: it does not block);
	// what it leaves behind will not be published, so count it.
	for b.enqueuing.Load() != 0 {
		runtime.Gosched()
	}
	b.dropQueued()
}

// Close releases the Redis connections. Call it after Run returned.
func (b *Bus) Close() error {
	b.stopped.Store(true)
	if err := b.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisbus: close: %w", err)
	}
	return nil
}
