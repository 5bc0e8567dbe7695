package redisbus

import (
	"context"

	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// dedupWindow is how many recently delivered (origin, event id) pairs are
// remembered. The copies of one publish (channel topics and the global
// topic) are published in one transaction and arrive next to each other, so a
// few thousand entries are plenty even under load.
const dedupWindow = 4096

// dedup remembers the last dedupWindow keys in a ring. Only the worker uses
// it, so it needs no lock.
type dedup struct {
	seen map[string]struct{}
	ring []string
	next int
}

func newDedup(n int) *dedup {
	return &dedup{seen: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records key and reports whether it was new.
func (d *dedup) add(key string) bool {
	if _, dup := d.seen[key]; dup {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = key
	d.next = (d.next + 1) % len(d.ring)
	d.seen[key] = struct{}{}
	return true
}

// workLoop applies received messages in arrival order until ctx ends.
func (b *Bus) workLoop(ctx context.Context) {
	d := newDedup(dedupWindow)
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-b.in:
			b.inBytes.Add(-int64(len(in.payload)))
			if b.lostInv.Swap(false) {
				b.opt.Caches.InvalidateAll()
			}
			b.handle(in, d)
		}
	}
}

func (b *Bus) handle(in inbound, d *dedup) {
	env, ev, err := decodeEnvelope(in.payload)
	if err != nil {
		b.log.Warn("redis bus: message dropped", "error", err.Error())
		return
	}
	if env.Origin == b.id {
		return // echo in an encoding we did not produce; still ours
	}
	switch {
	case in.inv:
		if env.Inv == nil {
			b.log.Warn("redis bus: invalidation message without a body dropped")
			return
		}
		b.opt.Caches.ApplyInvalidation(*env.Inv)
		b.invs.Add(1)
	case ev != nil:
		if !d.add(env.Origin + ":" + ev.ID) {
			b.dups.Add(1)
			return
		}
		b.received.Add(1)
		b.opt.Local.Publish(telemetry.ExtractMap(context.Background(), env.Trace), ev)
	default:
		b.log.Warn("redis bus: event message without an event dropped")
	}
}
