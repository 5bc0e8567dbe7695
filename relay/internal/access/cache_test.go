package access

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStringCache(size int, ttl time.Duration, clk *fakeClock) *cache[string, int] {
	return newCache[string, int](size, ttl, clk.Now, maphash.String)
}

func TestCacheGetPut(t *testing.T) {
	c := newStringCache(10, time.Second, newFakeClock())
	if _, ok := c.get("a"); ok {
		t.Fatal("empty cache returned a value")
	}
	c.put("a", 1)
	c.put("b", 2)
	c.put("a", 3)
	if v, ok := c.get("a"); !ok || v != 3 {
		t.Fatalf("get a = %d, %v; want 3, true", v, ok)
	}
	if v, ok := c.get("b"); !ok || v != 2 {
		t.Fatalf("get b = %d, %v; want 2, true", v, ok)
	}
	if n := c.len(); n != 2 {
		t.Fatalf("len = %d, want 2", n)
	}
}

func TestCacheTTLExpiry(t *testing.T) {
	clk := newFakeClock()
	c := newStringCache(10, 10*time.Second, clk)
	c.put("a", 1)
	clk.Advance(9 * time.Second)
	if _, ok := c.get("a"); !ok {
		t.Fatal("entry expired before its TTL")
	}
	c.put("b", 2)
	clk.Advance(time.Second)
	if _, ok := c.get("a"); ok {
		t.Fatal("entry still served at its TTL")
	}
	if n := c.len(); n != 1 {
		t.Fatalf("expired entry not removed on access: len = %d", n)
	}
	if _, ok := c.get("b"); !ok {
		t.Fatal("younger entry expired with the older one")
	}
	// Overwriting restarts the TTL.
	clk.Advance(8 * time.Second)
	c.put("b", 3)
	clk.Advance(8 * time.Second)
	if v, ok := c.get("b"); !ok || v != 3 {
		t.Fatalf("overwritten entry = %d, %v; want 3, true", v, ok)
	}
}

func TestCacheLRUBound(t *testing.T) {
	c := newStringCache(3, time.Hour, newFakeClock())
	c.put("a", 1)
	c.put("b", 2)
	c.put("c", 3)
	c.get("a") // a is now the most recent; b the least.
	c.put("d", 4)
	if _, ok := c.get("b"); ok {
		t.Fatal("least recently used entry was not evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(k); !ok {
			t.Fatalf("%s evicted, want only b evicted", k)
		}
	}
	if n := c.len(); n != 3 {
		t.Fatalf("len = %d, want 3", n)
	}
}

func TestCacheBoundSharded(t *testing.T) {
	const size = 2000
	c := newStringCache(size, time.Hour, newFakeClock())
	if len(c.shards) != shardCount {
		t.Fatalf("shards = %d, want %d", len(c.shards), shardCount)
	}
	for i := range 10 * size {
		c.put(fmt.Sprint(i), i)
	}
	if n := c.len(); n > size {
		t.Fatalf("len = %d, bound %d", n, size)
	}
	// The most recent entries survive.
	for i := 10*size - 50; i < 10*size; i++ {
		if v, ok := c.get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("recent entry %d missing", i)
		}
	}
}

func TestCacheDeleteAndGeneration(t *testing.T) {
	c := newStringCache(10, time.Hour, newFakeClock())
	c.put("a", 1)
	gen := c.generation("a")
	c.delete("a")
	if _, ok := c.get("a"); ok {
		t.Fatal("deleted entry still served")
	}
	// A load that started before the delete must not store its answer.
	if c.putIfGen("a", 1, gen) {
		t.Fatal("putIfGen stored a value loaded before an invalidation")
	}
	if _, ok := c.get("a"); ok {
		t.Fatal("stale value stored")
	}
	gen = c.generation("a")
	if !c.putIfGen("a", 2, gen) {
		t.Fatal("putIfGen refused with a current generation")
	}
	if v, _ := c.get("a"); v != 2 {
		t.Fatalf("get = %d, want 2", v)
	}
	// Deleting an absent key still bumps the generation.
	gen = c.generation("x")
	c.delete("x")
	if c.putIfGen("x", 1, gen) {
		t.Fatal("putIfGen stored after delete of an absent key")
	}
}

func TestCacheDeleteFuncAndClear(t *testing.T) {
	c := newStringCache(2000, time.Hour, newFakeClock())
	for i := range 100 {
		c.put(fmt.Sprint(i), i)
	}
	gen := c.generation("5")
	c.deleteFunc(func(k string) bool { return len(k) == 1 })
	if n := c.len(); n != 90 {
		t.Fatalf("len after deleteFunc = %d, want 90", n)
	}
	if _, ok := c.get("5"); ok {
		t.Fatal("matching entry survived deleteFunc")
	}
	if _, ok := c.get("50"); !ok {
		t.Fatal("non-matching entry removed by deleteFunc")
	}
	if c.putIfGen("5", 5, gen) {
		t.Fatal("putIfGen stored after deleteFunc")
	}
	gen = c.generation("50")
	c.clear()
	if n := c.len(); n != 0 {
		t.Fatalf("len after clear = %d", n)
	}
	if c.putIfGen("50", 50, gen) {
		t.Fatal("putIfGen stored after clear")
	}
	c.put("z", 1)
	if _, ok := c.get("z"); !ok {
		t.Fatal("cache unusable after clear")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newStringCache(1500, time.Hour, newFakeClock())
	var wg sync.WaitGroup
	var hits atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := fmt.Sprint((g*7 + i) % 3000)
				if _, ok := c.get(k); ok {
					hits.Add(1)
				}
				c.put(k, i)
				if i%100 == 0 {
					c.delete(k)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 1500 {
		t.Fatalf("len = %d over bound", n)
	}
	if hits.Load() == 0 {
		t.Fatal("no hits at all under concurrent use")
	}
}

func BenchmarkCacheGetHit(b *testing.B) {
	c := newCache[memberKey, string](DefaultCacheSize, time.Hour, time.Now, hashMemberKey)
	keys := make([]memberKey, 1000)
	for i := range keys {
		keys[i] = memberKey{channel: fmt.Sprintf("c%d", i%50), pubkey: fmt.Sprintf("p%d", i)}
		c.put(keys[i], "member")
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.get(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// TestCacheTTLRunsFromLoadStart: an answer read from the store is as old as
// the read, so a slow load does not stretch the TTL bound.
func TestCacheTTLRunsFromLoadStart(t *testing.T) {
	clk := newFakeClock()
	c := newStringCache(10, 10*time.Second, clk)
	tok := c.generation("a")
	clk.Advance(3 * time.Second) // the load takes 3 s
	if !c.putIfGen("a", 1, tok) {
		t.Fatal("putIfGen refused without an invalidation")
	}
	clk.Advance(6 * time.Second) // 9 s after the load began
	if _, ok := c.get("a"); !ok {
		t.Fatal("entry gone before its TTL")
	}
	clk.Advance(2 * time.Second) // 11 s after the load began
	if _, ok := c.get("a"); ok {
		t.Fatal("entry outlived the TTL counted from the load's start")
	}
}
