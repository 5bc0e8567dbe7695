package fanout

import (
	"context"
	"slices"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// maxPooledScratch bounds what a pooled deliveryScratch keeps between calls:
// one huge delivery must not make every later one clear a huge map.
const maxPooledScratch = 4096

// deliveryScratch is one Deliver call's working memory, reused through a
// pool. Frames are handed to subscribers and are never reused.
type deliveryScratch struct {
	channels []string
	cands    []*subscription
	seen     map[*subscription]struct{}
	canRead  map[string]bool   // pubkey → read decision for this event
	frames   map[string][]byte // subscription id → EVENT frame for this event
}

// Deliver sends ev to every open subscription that matches it and whose
// subscriber may read it, and returns the number of frames enqueued
// successfully (a full queue is a failed send; backpressure is the ws
// layer's business). Ephemeral events are delivered the same way.
//
// Only the buckets the event can match are visited: (c,k), (c,*), (*,k) and
// (*,*) for each distinct h value c and the event kind k. A subscription
// gets the event at most once, however many of its filters match. The read
// decision is taken once per pubkey and the frame built once per
// subscription id within one call.
func (ix *Index) Deliver(ctx context.Context, ev *nostr.Event) int {
	sc := ix.getScratch()
	defer ix.putScratch(sc)

	sc.channels = eventChannels(ev, sc.channels[:0])

	// Under the read lock only copy candidate pointers; matching, read
	// checks and sends happen after, so writers wait as little as possible.
	ix.mu.RLock()
	for _, c := range sc.channels {
		sc.collect(ix.buckets[bucketKey{channel: c, kind: ev.Kind}])
		sc.collect(ix.buckets[bucketKey{channel: c, kind: anyKind}])
	}
	sc.collect(ix.buckets[bucketKey{anyChannel: true, kind: ev.Kind}])
	sc.collect(ix.buckets[bucketKey{anyChannel: true, kind: anyKind}])
	ix.mu.RUnlock()

	sent := 0
	for _, s := range sc.cands {
		if !nostr.MatchesAny(s.filters, ev) {
			continue
		}
		if !sc.mayRead(ctx, ix.rc, s.sub.Pubkey(), ev) {
			continue
		}
		frame, ok := sc.frames[s.id]
		if !ok {
			frame = nostr.EventFrame(s.id, ev)
			sc.frames[s.id] = frame
		}
		// A subscription closed or replaced since collection must not get
		// the event: CLOSE is honoured as soon as Unsubscribe returns.
		if s.closed.Load() {
			continue
		}
		if s.sub.Deliver(s.id, ev, frame) {
			sent++
		}
	}
	ix.obs.Delivered(sent)
	return sent
}

// collect appends b's subscriptions to the candidates. A subscription in
// more than one bucket may be met twice, so those go through the seen set;
// the common single-bucket case costs no map operation.
func (sc *deliveryScratch) collect(b *bucket) {
	if b == nil {
		return
	}
	for _, e := range b.entries {
		if len(e.s.keys) > 1 {
			if _, dup := sc.seen[e.s]; dup {
				continue
			}
			sc.seen[e.s] = struct{}{}
		}
		sc.cands = append(sc.cands, e.s)
	}
}

// mayRead asks rc once per pubkey per delivery; a nil rc denies.
func (sc *deliveryScratch) mayRead(ctx context.Context, rc ReadChecker, pubkey string, ev *nostr.Event) bool {
	if ok, cached := sc.canRead[pubkey]; cached {
		return ok
	}
	ok := rc != nil && rc.CanRead(ctx, pubkey, ev)
	sc.canRead[pubkey] = ok
	return ok
}

// eventChannels appends the distinct values of ev's h tags to dst. An event
// may carry several; a channel filter matches if any of them is named.
func eventChannels(ev *nostr.Event, dst []string) []string {
	start := len(dst)
	var seen map[string]struct{} // only for events with many h tags
	for _, t := range ev.Tags {
		if len(t) < 2 || t[0] != "h" {
			continue
		}
		c := t[1]
		if seen != nil {
			if _, dup := seen[c]; dup {
				continue
			}
			seen[c] = struct{}{}
			dst = append(dst, c)
			continue
		}
		if slices.Contains(dst[start:], c) {
			continue
		}
		dst = append(dst, c)
		if len(dst)-start == 16 {
			seen = make(map[string]struct{})
			for _, have := range dst[start:] {
				seen[have] = struct{}{}
			}
		}
	}
	return dst
}

func (ix *Index) getScratch() *deliveryScratch {
	if sc, ok := ix.scratch.Get().(*deliveryScratch); ok {
		return sc
	}
	return &deliveryScratch{
		seen:    make(map[*subscription]struct{}),
		canRead: make(map[string]bool),
		frames:  make(map[string][]byte),
	}
}

// putScratch returns sc to the pool, dropping anything that grew too large
// and every reference to subscriptions and frames so they can be collected.
func (ix *Index) putScratch(sc *deliveryScratch) {
	if len(sc.seen) > maxPooledScratch || len(sc.canRead) > maxPooledScratch ||
		len(sc.frames) > maxPooledScratch || cap(sc.cands) > maxPooledScratch ||
		cap(sc.channels) > maxPooledScratch {
		return
	}
	clear(sc.cands)
	sc.cands = sc.cands[:0]
	clear(sc.channels)
	sc.channels = sc.channels[:0]
	clear(sc.seen)
	clear(sc.canRead)
	clear(sc.frames)
	ix.scratch.Put(sc)
}
