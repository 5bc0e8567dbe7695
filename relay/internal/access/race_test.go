package access

import (
	"context"
	"sync"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// hookStore is a real store that runs a hook once, right after a membership
// read returns, to place a concurrent change exactly between a cache load's
// read and its store into the cache.
type hookStore struct {
	store.Store
	mu   sync.Mutex
	hook func()
}

func (s *hookStore) Membership(ctx context.Context, channel, pubkey string) (store.Role, error) {
	r, err := s.Store.Membership(ctx, channel, pubkey)
	s.mu.Lock()
	hook := s.hook
	s.hook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return r, err
}

// TestLoadRacingRemoval: a membership load that read "member" just before
// the member was removed must not put that answer back into the cache after
// the removal's invalidation, or the removed member would keep reading for a
// whole TTL on the node where the removal happened.
func TestLoadRacingRemoval(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		hs := &hookStore{Store: st}
		e := newEnv(t, hs, Config{})
		alice, bob := newUser(t), newUser(t)
		priv := e.createChannel(alice, store.Private)
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", bob.pk}))
		msg := alice.event(t, nostr.KindChatMessage, h(priv))

		hs.mu.Lock()
		hs.hook = func() {
			e.mustWrite(alice, alice.event(t, nostr.KindRemoveMember, h(priv), []string{"p", bob.pk}))
		}
		hs.mu.Unlock()
		// This read saw bob as a member; that answer is not cached.
		e.canRead(bob, msg)
		if e.canRead(bob, msg) {
			t.Fatal("stale membership cached by a load that raced the removal")
		}
		if e.a.members.len() == 0 {
			t.Fatal("fresh answer not cached after the race")
		}
	})
}

func BenchmarkCanReadPrivateCached(b *testing.B) {
	st := openSQLite(b)
	a := New(st, Config{}, nil)
	ctx := context.Background()
	alice := newUser(b)
	id := benchPrivateChannel(b, st, a, alice)
	msg := alice.event(b, nostr.KindChatMessage, h(id))
	readers := make([]string, 100)
	for i := range readers {
		readers[i] = newUser(b).pk
	}
	readers[0] = alice.pk
	for _, r := range readers {
		a.CanRead(ctx, r, msg)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a.CanRead(ctx, readers[i%len(readers)], msg)
			i++
		}
	})
}

func BenchmarkScopeCached(b *testing.B) {
	st := openSQLite(b)
	a := New(st, Config{}, nil)
	ctx := context.Background()
	alice := newUser(b)
	for range 20 {
		benchPrivateChannel(b, st, a, alice)
	}
	if sc, err := a.Scope(ctx, alice.pk); err != nil || len(sc.Channels) != 20 {
		b.Fatalf("scope %v, %v", sc, err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := a.Scope(ctx, alice.pk); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPrivateChannel has creator create a private channel through a, as the
// relay would, and returns its id.
func benchPrivateChannel(b *testing.B, st store.Store, a *Access, creator user) string {
	b.Helper()
	ctx := context.Background()
	id := relaytest.NewUUID()
	ev := creator.event(b, nostr.KindCreateChannel, h(id), []string{"name", "bench"}, []string{"visibility", "private"})
	change, err := a.CheckWrite(ctx, creator.pk, ev)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Save(ctx, ev, change); err != nil {
		b.Fatal(err)
	}
	a.Applied(ctx, change)
	return id
}
