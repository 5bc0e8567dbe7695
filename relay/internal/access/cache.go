package access

import (
	"hash/maphash"
	"sync"
	"time"
)

// cache is a bounded map with a time-to-live per entry and least-recently-used
// eviction. It is split into shards so that the many goroutines checking read
// access during fan-out do not all queue on one lock; each shard is its own
// LRU, so eviction is LRU per shard (exact LRU when there is one shard).
//
// Each shard carries a generation that every deletion bumps. A caller that
// loads a value from the store takes the generation first and stores the
// value with putIfGen, which refuses when an invalidation ran in between:
// otherwise a load that started before a membership change could put the old
// answer back right after the invalidation removed it.
//
// It is written here rather than taken from a library because it is small,
// needs the generation guard and injectable clock, and the module already
// has enough dependencies.
type cache[K comparable, V any] struct {
	ttl    time.Duration
	now    func() time.Time
	seed   maphash.Seed
	hash   func(maphash.Seed, K) uint64
	shards []*shard[K, V]
}

type shard[K comparable, V any] struct {
	mu    sync.Mutex
	limit int
	gen   uint64
	items map[K]*entry[K, V]
	// head is the most recently used entry, tail the least.
	head, tail *entry[K, V]
}

type entry[K comparable, V any] struct {
	key        K
	val        V
	expires    time.Time
	prev, next *entry[K, V]
}

// shardThreshold is the size below which a cache has a single shard, so
// small caches (and tests) get exact LRU order.
const (
	shardThreshold = 1024
	shardCount     = 16
)

// newCache returns a cache of at most size entries (at least 1), each living
// ttl. hash spreads keys over the shards.
func newCache[K comparable, V any](size int, ttl time.Duration, now func() time.Time, hash func(maphash.Seed, K) uint64) *cache[K, V] {
	if size < 1 {
		size = 1
	}
	n := 1
	if size >= shardThreshold {
		n = shardCount
	}
	c := &cache[K, V]{ttl: ttl, now: now, seed: maphash.MakeSeed(), hash: hash, shards: make([]*shard[K, V], n)}
	for i := range c.shards {
		limit := size / n
		if i < size%n {
			limit++
		}
		c.shards[i] = &shard[K, V]{limit: limit, items: make(map[K]*entry[K, V])}
	}
	return c
}

func (c *cache[K, V]) shardOf(k K) *shard[K, V] {
	if len(c.shards) == 1 {
		return c.shards[0]
	}
	return c.shards[c.hash(c.seed, k)%uint64(len(c.shards))]
}

// get returns the live value for k and marks it recently used.
func (c *cache[K, V]) get(k K) (V, bool) {
	s := c.shardOf(k)
	now := c.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	if !now.Before(e.expires) {
		s.remove(e)
		var zero V
		return zero, false
	}
	s.moveToFront(e)
	return e.val, true
}

// loadToken is taken before a load from the store: the shard's generation,
// to refuse a stale answer, and the time, from which the answer's TTL runs
// (an answer is as old as the read that produced it).
type loadToken struct {
	gen uint64
	at  time.Time
}

// generation returns the token for a load of k, to pass to putIfGen.
func (c *cache[K, V]) generation(k K) loadToken {
	s := c.shardOf(k)
	now := c.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return loadToken{gen: s.gen, at: now}
}

// putIfGen stores v under k unless k's shard was invalidated since the
// token was taken; the entry expires a TTL after the load began. It reports
// whether the value was stored.
func (c *cache[K, V]) putIfGen(k K, v V, tok loadToken) bool {
	s := c.shardOf(k)
	expires := tok.at.Add(c.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != tok.gen {
		return false
	}
	s.set(k, v, expires)
	return true
}

// put stores v under k unconditionally.
func (c *cache[K, V]) put(k K, v V) {
	s := c.shardOf(k)
	expires := c.now().Add(c.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(k, v, expires)
}

// delete removes k and bumps its shard's generation, so that a load already
// in flight for k does not store its (possibly stale) answer.
func (c *cache[K, V]) delete(k K) {
	s := c.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if e, ok := s.items[k]; ok {
		s.remove(e)
	}
}

// deleteFunc removes every entry whose key satisfies match, bumping every
// shard's generation. It walks the whole cache, so it is for rare,
// broad invalidations only.
func (c *cache[K, V]) deleteFunc(match func(K) bool) {
	for _, s := range c.shards {
		s.mu.Lock()
		s.gen++
		for k, e := range s.items {
			if match(k) {
				s.remove(e)
			}
		}
		s.mu.Unlock()
	}
}

// clear removes every entry.
func (c *cache[K, V]) clear() {
	for _, s := range c.shards {
		s.mu.Lock()
		s.gen++
		clear(s.items)
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

// len returns the number of entries held, expired ones included until they
// are touched or evicted.
func (c *cache[K, V]) len() int {
	n := 0
	for _, s := range c.shards {
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

func (s *shard[K, V]) set(k K, v V, expires time.Time) {
	if e, ok := s.items[k]; ok {
		e.val, e.expires = v, expires
		s.moveToFront(e)
		return
	}
	for len(s.items) >= s.limit && s.tail != nil {
		s.remove(s.tail)
	}
	e := &entry[K, V]{key: k, val: v, expires: expires}
	s.items[k] = e
	s.pushFront(e)
}

func (s *shard[K, V]) remove(e *entry[K, V]) {
	delete(s.items, e.key)
	s.unlink(e)
}

func (s *shard[K, V]) unlink(e *entry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *shard[K, V]) pushFront(e *entry[K, V]) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard[K, V]) moveToFront(e *entry[K, V]) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}
