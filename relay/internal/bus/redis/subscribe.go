package redisbus

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// connLoop keeps one pub/sub connection alive until ctx ends, reconnecting
// with capped, jittered exponential backoff.
func (b *Bus) connLoop(ctx context.Context) {
	delay := b.opt.BackoffMin
	down := false // the outage has been logged
	for ctx.Err() == nil {
		connected, err := b.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			delay = b.opt.BackoffMin
			down = false
		}
		if !down {
			b.log.Warn("redis bus: not connected, retrying with backoff", "error", errString(err))
			down = true
		}
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, b.opt.BackoffMax)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// session runs one pub/sub connection: it subscribes to the invalidation
// topic and to what local interest requires, keeps that set current, and
// returns when the connection fails (connected reports whether it got that
// far) or ctx ends.
func (b *Bus) session(ctx context.Context) (connected bool, err error) {
	ps := b.client.Subscribe(ctx)
	defer ps.Close()
	b.mu.Lock()
	b.subbed[b.invT] = true
	b.pending[b.invT] = 1
	b.mu.Unlock()
	// Whatever happens next, the session's subscriptions end with it (the
	// reader has returned by the time this runs).
	defer b.sessionDown()
	if err := ps.Subscribe(ctx, b.invT); err != nil {
		return false, err
	}
	// Invalidations published while this node was not listening are lost:
	// forget every cached membership answer rather than serve a stale one.
	b.opt.Caches.InvalidateAll()
	if b.connects.Add(1) == 1 {
		b.log.Info("redis bus: connected", "node", b.id, "namespace", b.opt.Namespace)
	} else {
		b.log.Info("redis bus: reconnected, membership caches flushed", "node", b.id)
	}

	readErr := make(chan error, 1)
	go func() { readErr <- b.read(ctx, ps) }()
	stop := func() error {
		_ = ps.Close()
		return <-readErr
	}

	b.mu.Lock()
	b.up = true
	b.mu.Unlock()
	ping := time.NewTicker(b.opt.PingEvery)
	defer ping.Stop()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		next, err := b.sync(ctx, ps)
		if err != nil {
			_ = stop()
			return true, err
		}
		var lingerC <-chan time.Time
		if !next.IsZero() {
			if linger == nil {
				linger = time.NewTimer(time.Until(next))
			} else {
				linger.Reset(time.Until(next))
			}
			lingerC = linger.C
		}
		select {
		case <-ctx.Done():
			_ = stop()
			return true, nil
		case err := <-readErr:
			return true, err
		case <-b.wake:
		case <-lingerC:
		case <-ping.C:
			if err := ps.Ping(ctx); err != nil {
				_ = stop()
				return true, err
			}
		}
	}
}

// read hands every message to the worker until the connection fails. It
// never blocks on fan-out: a full hand-off drops the message and counts it.
func (b *Bus) read(ctx context.Context, ps *redis.PubSub) error {
	for {
		msg, err := ps.ReceiveTimeout(ctx, 3*b.opt.PingEvery)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return nil
			}
			return err
		}
		if s, ok := msg.(*redis.Subscription); ok {
			b.confirmed(s.Channel)
			continue
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // pongs
		}
		if strings.HasPrefix(m.Payload, b.selfPrefix) {
			continue // our own echo
		}
		in := inbound{inv: m.Channel == b.invT, payload: m.Payload}
		n := int64(len(in.payload))
		if b.inBytes.Add(n) > b.opt.InboundBytes {
			b.inBytes.Add(-n)
			b.lagged(in)
			continue
		}
		select {
		case b.in <- in:
		default:
			b.inBytes.Add(-n)
			b.lagged(in)
		}
	}
}

// lagged counts in as dropped by a full hand-off.
func (b *Bus) lagged(in inbound) {
	if in.inv {
		b.invLag.Add(1)
		b.lostInv.Store(true)
		b.obs.InvalidationLagged()
	} else {
		b.fanLag.Add(1)
		b.obs.FanoutLagged()
	}
}

// confirmed records Redis's reply to one topic of a SUBSCRIBE or
// UNSUBSCRIBE (replies come in command order, one per topic).
func (b *Bus) confirmed(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending[topic] > 1 {
		b.pending[topic]--
		return
	}
	delete(b.pending, topic)
	b.changedLocked()
}

// sessionDown forgets the ended session's subscriptions and releases every
// Interest waiting on them.
func (b *Bus) sessionDown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up = false
	clear(b.subbed)
	clear(b.pending)
	b.changedLocked()
}

// sync brings the connection's subscriptions to what local interest
// requires. New topics are subscribed before old ones are released, so a
// switch between global and per-channel mode misses nothing. It returns the
// time of the next pending release, if any.
func (b *Bus) sync(ctx context.Context, ps *redis.PubSub) (time.Time, error) {
	target, next := b.target()
	var add, drop []string
	// Recorded before the commands go out, so the reader can match the
	// replies, and a topic being released stops counting as subscribed.
	b.mu.Lock()
	for t := range target {
		if !b.subbed[t] {
			add = append(add, t)
			b.subbed[t] = true
			b.pending[t]++
		}
	}
	for t := range b.subbed {
		if !target[t] {
			drop = append(drop, t)
			delete(b.subbed, t)
			b.pending[t]++
		}
	}
	b.mu.Unlock()
	if len(add) > 0 {
		if err := ps.Subscribe(ctx, add...); err != nil {
			return next, err
		}
	}
	if len(drop) > 0 {
		if err := ps.Unsubscribe(ctx, drop...); err != nil {
			return next, err
		}
	}
	return next, nil
}

// target is the set of topics local interest requires now, and when the
// next lingering topic is due for release.
func (b *Bus) target() (map[string]bool, time.Time) {
	now := time.Now()
	var next time.Time
	b.mu.Lock()
	defer b.mu.Unlock()
	global := false
	for ch, until := range b.want {
		if !until.IsZero() {
			if !until.After(now) {
				delete(b.want, ch)
				continue
			}
			if next.IsZero() || until.Before(next) {
				next = until
			}
		}
		if ch == "" {
			global = true
		}
	}
	target := map[string]bool{b.invT: true}
	if global {
		// The global topic carries every event: channel topics would only
		// bring second copies.
		target[b.globalT] = true
		return target, next
	}
	for ch := range b.want {
		target[b.ChannelTopic(ch)] = true
	}
	return target, next
}
