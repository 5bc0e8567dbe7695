// Package fanout keeps the index of open subscriptions and delivers each new
// event to the ones it matches (RELAY.md §6). Subscriptions are indexed by
// (channel, kind) with wildcards, so an event only visits the buckets it could
// match instead of every subscription; each candidate is then confirmed by the
// full filter match and the recipient's read access. Connections take part
// through the small Subscriber interface: fanout never knows about sockets.
package fanout

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Subscriber is one connection as fan-out sees it. Implemented by the ws
// package. It is used as a map key, so it must be comparable (a pointer).
type Subscriber interface {
	// Pubkey is the authenticated identity used for the read check.
	Pubkey() string
	// Deliver hands the subscriber the EVENT frame of ev for its
	// subscription subID without blocking; false means it could not take it
	// (queue full). The frame may be shared with other subscribers and must
	// not be modified. subID and ev let a subscriber hold live events back
	// while it is still sending a subscription's stored results.
	Deliver(subID string, ev *nostr.Event, frame []byte) bool
}

// ReadChecker decides whether pubkey may read ev right now (the access
// package implements it, with caches).
type ReadChecker interface {
	CanRead(ctx context.Context, pubkey string, ev *nostr.Event) bool
}

// Observer receives fan-out measurements. A nil Observer is allowed, so this
// package needs no metrics import.
type Observer interface {
	// SubscriptionsChanged reports +n / -n as subscriptions open and close;
	// a replacement (same subscriber and id) is not a change.
	SubscriptionsChanged(delta int)
	// Delivered is called once per Deliver call with the number of frames
	// enqueued successfully.
	Delivered(recipients int)
}

// Index is the set of open subscriptions of this process. It is safe for
// concurrent use: many Deliver calls run in parallel with each other and with
// subscription changes.
type Index struct {
	rc  ReadChecker
	obs Observer

	mu       sync.RWMutex
	conns    map[Subscriber]map[string]*subscription
	buckets  map[bucketKey]*bucket
	total    int
	interest map[string]int // channel ("" = global) → subscriptions naming it
	hook     func(channel string, active bool)
	pending  []interestChange // transitions not yet handed to hook, in order

	// hookMu serialises hook calls so transitions reach the hook in the
	// order they happened, without holding mu while the hook runs.
	hookMu sync.Mutex

	scratch sync.Pool // *deliveryScratch
}

// subscription is immutable after Subscribe except for the index positions
// (guarded by Index.mu) and closed, so Deliver may read it without the lock.
type subscription struct {
	sub      Subscriber
	id       string
	filters  []nostr.Filter
	keys     []bucketKey // buckets this subscription is in, each once
	pos      []int       // pos[i] is its position in the bucket of keys[i]
	interest []string    // channels it names; "" when a filter has no #h
	closed   atomic.Bool // set on removal so in-flight deliveries skip it
}

// bucket holds the subscriptions indexed under one key. Removal swaps the
// last entry into the hole, so each entry remembers which of its
// subscription's keys it stands for, to fix that subscription's position.
type bucket struct {
	entries []bucketEntry
}

type bucketEntry struct {
	s    *subscription
	slot int // index into s.keys / s.pos
}

type interestChange struct {
	channel string
	active  bool
}

type nopObserver struct{}

func (nopObserver) SubscriptionsChanged(int) {}
func (nopObserver) Delivered(int)            {}

// NewIndex returns an empty index. rc decides read access for every delivery;
// a nil rc denies everything (fail closed: private events must never leak).
// obs may be nil.
func NewIndex(rc ReadChecker, obs Observer) *Index {
	if obs == nil {
		obs = nopObserver{}
	}
	return &Index{
		rc:       rc,
		obs:      obs,
		conns:    make(map[Subscriber]map[string]*subscription),
		buckets:  make(map[bucketKey]*bucket),
		interest: make(map[string]int),
	}
}

// Subscribe registers (sub, subID) with its filters, replacing an existing
// subscription with the same (sub, subID). The index keeps filters (a shallow
// copy of the slice); the caller must not modify the filters afterwards.
func (ix *Index) Subscribe(sub Subscriber, subID string, filters []nostr.Filter) {
	s := newSubscription(sub, subID, filters)

	ix.mu.Lock()
	subs := ix.conns[sub]
	if subs == nil {
		subs = make(map[string]*subscription)
		ix.conns[sub] = subs
	}
	old := subs[subID]
	subs[subID] = s
	// Insert before removing the old one so a channel both name never drops
	// to zero interest (which would make the bus unsubscribe and resubscribe).
	ix.insertLocked(s)
	if old != nil {
		ix.removeLocked(old)
	} else {
		ix.total++
	}
	flush := len(ix.pending) > 0
	ix.mu.Unlock()

	if flush {
		ix.flushInterest()
	}
	if old == nil {
		ix.obs.SubscriptionsChanged(1)
	}
}

// Unsubscribe removes one subscription; it reports whether it existed.
func (ix *Index) Unsubscribe(sub Subscriber, subID string) bool {
	ix.mu.Lock()
	subs := ix.conns[sub]
	s := subs[subID]
	if s != nil {
		delete(subs, subID)
		if len(subs) == 0 {
			delete(ix.conns, sub)
		}
		ix.removeLocked(s)
		ix.total--
	}
	flush := len(ix.pending) > 0
	ix.mu.Unlock()

	if flush {
		ix.flushInterest()
	}
	if s != nil {
		ix.obs.SubscriptionsChanged(-1)
	}
	return s != nil
}

// UnsubscribeAll removes every subscription of sub (its connection closed)
// and returns how many there were.
func (ix *Index) UnsubscribeAll(sub Subscriber) int {
	ix.mu.Lock()
	subs := ix.conns[sub]
	delete(ix.conns, sub)
	for _, s := range subs {
		ix.removeLocked(s)
	}
	n := len(subs)
	ix.total -= n
	flush := len(ix.pending) > 0
	ix.mu.Unlock()

	if flush {
		ix.flushInterest()
	}
	if n > 0 {
		ix.obs.SubscriptionsChanged(-n)
	}
	return n
}

// Count returns how many subscriptions sub has open (the ws layer enforces
// its per-connection limit with it).
func (ix *Index) Count(sub Subscriber) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.conns[sub])
}

// Len returns how many subscriptions are open in total.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.total
}

// Channels reports the channel ids that at least one open subscription names
// in an #h filter (sorted), and whether any subscription has a filter without
// #h (global: it can match events of every channel and of none).
func (ix *Index) Channels() (channels []string, global bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for c := range ix.interest {
		if c == "" {
			global = true
			continue
		}
		channels = append(channels, c)
	}
	sort.Strings(channels)
	return channels, global
}

// SetInterestHook installs hook, called with active=true when a channel (""
// = global) gains its first subscription and active=false when it loses its
// last. On installation hook is called once with active=true for every
// channel already in use, so it never misses state. Calls are serialised and
// in order, and have happened by the time the Subscribe/Unsubscribe that
// caused them returns. hook may call Channels, but must not subscribe or
// unsubscribe (that would deadlock). A nil hook removes it.
func (ix *Index) SetInterestHook(hook func(channel string, active bool)) {
	ix.hookMu.Lock()
	defer ix.hookMu.Unlock()

	ix.mu.Lock()
	ix.hook = hook
	ix.pending = nil // the snapshot below already reflects them
	var active []string
	if hook != nil {
		for c := range ix.interest {
			active = append(active, c)
		}
	}
	ix.mu.Unlock()

	sort.Strings(active)
	for _, c := range active {
		hook(c, true)
	}
}

// flushInterest hands pending transitions to the hook. Whoever holds hookMu
// drains everything queued so far, so order is preserved across goroutines.
func (ix *Index) flushInterest() {
	ix.hookMu.Lock()
	defer ix.hookMu.Unlock()
	for {
		ix.mu.Lock()
		pending, hook := ix.pending, ix.hook
		ix.pending = nil
		ix.mu.Unlock()
		if len(pending) == 0 || hook == nil {
			return
		}
		for _, c := range pending {
			hook(c.channel, c.active)
		}
	}
}

func newSubscription(sub Subscriber, subID string, filters []nostr.Filter) *subscription {
	s := &subscription{
		sub:     sub,
		id:      subID,
		filters: slices.Clone(filters),
	}
	s.keys = subscriptionKeys(s.filters)
	s.pos = make([]int, len(s.keys))
	s.interest = subscriptionInterest(s.filters)
	return s
}

// insertLocked adds s to its buckets and interest counts. ix.mu must be held.
func (ix *Index) insertLocked(s *subscription) {
	for i, k := range s.keys {
		b := ix.buckets[k]
		if b == nil {
			b = &bucket{}
			ix.buckets[k] = b
		}
		s.pos[i] = len(b.entries)
		b.entries = append(b.entries, bucketEntry{s: s, slot: i})
	}
	for _, c := range s.interest {
		ix.interest[c]++
		if ix.interest[c] == 1 && ix.hook != nil {
			ix.pending = append(ix.pending, interestChange{channel: c, active: true})
		}
	}
}

// removeLocked takes s out of its buckets and interest counts and marks it
// closed. ix.mu must be held; the caller updates conns and total.
func (ix *Index) removeLocked(s *subscription) {
	s.closed.Store(true)
	for i, k := range s.keys {
		b := ix.buckets[k]
		p := s.pos[i]
		last := len(b.entries) - 1
		if p != last {
			moved := b.entries[last]
			b.entries[p] = moved
			moved.s.pos[moved.slot] = p
		}
		b.entries[last] = bucketEntry{}
		b.entries = b.entries[:last]
		switch {
		case last == 0:
			delete(ix.buckets, k)
		case cap(b.entries) > 64 && last < cap(b.entries)/4:
			// Give memory back after a crowd has left the bucket.
			b.entries = slices.Clip(slices.Clone(b.entries))
		}
	}
	for _, c := range s.interest {
		ix.interest[c]--
		if ix.interest[c] == 0 {
			delete(ix.interest, c)
			if ix.hook != nil {
				ix.pending = append(ix.pending, interestChange{channel: c, active: false})
			}
		}
	}
}
