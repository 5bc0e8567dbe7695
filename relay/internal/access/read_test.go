package access

import (
	"slices"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

func TestCanReadAndScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice, bob, carol := newUser(t), newUser(t), newUser(t)
		open := e.createChannel(alice, store.Open)
		priv1 := e.createChannel(alice, store.Private)
		priv2 := e.createChannel(bob, store.Private)
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv1), []string{"p", bob.pk}))
		e.mustWrite(bob, bob.event(t, nostr.KindJoinChannel, h(open)))

		note := carol.event(t, 1)
		inOpen := alice.event(t, nostr.KindChatMessage, h(open))
		in1 := alice.event(t, nostr.KindChatMessage, h(priv1))
		in2 := bob.event(t, nostr.KindChatMessage, h(priv2))
		unknown := alice.event(t, nostr.KindChatMessage, h(relaytest.NewUUID()))
		twoH := alice.event(t, 1, h(open), h(priv1))

		cases := []struct {
			u    user
			ev   *nostr.Event
			want bool
		}{
			{carol, note, true}, {alice, note, true},
			{carol, inOpen, true}, {bob, inOpen, true},
			{alice, in1, true}, {bob, in1, true}, {carol, in1, false},
			{bob, in2, true}, {alice, in2, false}, {carol, in2, false},
			{alice, unknown, false},
			{alice, twoH, true}, {carol, twoH, false},
		}
		for i, c := range cases {
			// Twice: the second answer comes from the caches.
			for range 2 {
				if got := e.canRead(c.u, c.ev); got != c.want {
					t.Fatalf("case %d: CanRead = %v, want %v", i, got, c.want)
				}
			}
		}

		// Scope lists private channels the reader belongs to, and only those.
		if got, want := e.scope(alice), sorted(priv1); !slices.Equal(got, want) {
			t.Fatalf("alice scope %v, want %v", got, want)
		}
		if got, want := e.scope(bob), sorted(priv1, priv2); !slices.Equal(got, want) {
			t.Fatalf("bob scope %v, want %v", got, want)
		}
		if got := e.scope(carol); len(got) != 0 {
			t.Fatalf("carol scope %v, want empty", got)
		}
		// The caller owns the slice.
		sc := e.scope(bob)
		sc[0] = "mutated"
		if got := e.scope(bob); slices.Contains(got, "mutated") {
			t.Fatal("Scope returned the cache's own slice")
		}

		// Membership changes show at once on this node.
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv1), []string{"p", carol.pk}))
		if !e.canRead(carol, in1) || !slices.Equal(e.scope(carol), []string{priv1}) {
			t.Fatal("added member cannot read at once")
		}
		e.mustWrite(alice, alice.event(t, nostr.KindRemoveMember, h(priv1), []string{"p", bob.pk}))
		if e.canRead(bob, in1) {
			t.Fatal("removed member still reads")
		}
		if got := e.scope(bob); !slices.Equal(got, []string{priv2}) {
			t.Fatalf("removed member's scope %v, want [%s]", got, priv2)
		}
		// A creator sees their new private channel at once.
		e.scope(carol)
		priv3 := e.createChannel(carol, store.Private)
		if got := e.scope(carol); !slices.Equal(got, sorted(priv1, priv3)) {
			t.Fatalf("creator's scope %v after create", got)
		}

		// The observer saw hits and misses of both caches.
		if e.obs.memberHit.Load() == 0 || e.obs.memberMiss.Load() == 0 ||
			e.obs.accHit.Load() == 0 || e.obs.accMiss.Load() == 0 {
			t.Fatalf("observer counts: member %d/%d accessible %d/%d",
				e.obs.memberHit.Load(), e.obs.memberMiss.Load(), e.obs.accHit.Load(), e.obs.accMiss.Load())
		}
	})
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestCacheTTLAgainstStore changes membership behind the node's back (as
// another node whose invalidation was lost would) and checks the cached
// answers hold until the TTL and no longer.
func TestCacheTTLAgainstStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{CacheTTL: 10 * time.Second})
		alice, bob := newUser(t), newUser(t)
		priv := e.createChannel(alice, store.Private)
		msg := alice.event(t, nostr.KindChatMessage, h(priv))

		if e.canRead(bob, msg) || len(e.scope(bob)) != 0 {
			t.Fatal("non-member reads")
		}
		misses, hits := e.obs.memberMiss.Load(), e.obs.memberHit.Load()

		// Another node adds bob; this node hears nothing.
		add := alice.event(t, nostr.KindAddMember, h(priv), []string{"p", bob.pk})
		if err := st.Save(e.ctx, add, &store.ChannelChange{Channel: priv, AddMember: bob.pk, AddRole: store.RoleMember}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(9 * time.Second)
		if e.canRead(bob, msg) || len(e.scope(bob)) != 0 {
			t.Fatal("cached negative answer not used within the TTL")
		}
		if e.obs.memberHit.Load() != hits+1 || e.obs.memberMiss.Load() != misses {
			t.Fatalf("want one more hit: hits %d→%d misses %d→%d", hits, e.obs.memberHit.Load(), misses, e.obs.memberMiss.Load())
		}
		e.clk.Advance(time.Second)
		if !e.canRead(bob, msg) || !slices.Equal(e.scope(bob), []string{priv}) {
			t.Fatal("membership not seen after the TTL")
		}
		if e.obs.memberMiss.Load() != misses+1 {
			t.Fatal("expired entry not counted as a miss")
		}

		// Another node removes bob: readable until the TTL, then not.
		rm := alice.event(t, nostr.KindRemoveMember, h(priv), []string{"p", bob.pk})
		if err := st.Save(e.ctx, rm, &store.ChannelChange{Channel: priv, RemoveMember: bob.pk}); err != nil {
			t.Fatal(err)
		}
		if !e.canRead(bob, msg) {
			t.Fatal("cached positive answer not used within the TTL")
		}
		// Writes that change membership read the store, not the cache.
		e.refused(bob, bob.event(t, nostr.KindLeaveChannel, h(priv)), "restricted: not a channel member")
		e.clk.Advance(10 * time.Second)
		if e.canRead(bob, msg) || len(e.scope(bob)) != 0 {
			t.Fatal("removal not seen after the TTL")
		}
	})
}

func TestMembershipCacheBound(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{CacheSize: 3})
		alice := newUser(t)
		priv := e.createChannel(alice, store.Private)
		msg := alice.event(t, nostr.KindChatMessage, h(priv))
		users := []user{newUser(t), newUser(t), newUser(t), newUser(t)}
		for _, u := range users {
			e.canRead(u, msg)
			e.scope(u)
		}
		if n := e.a.members.len(); n != 3 {
			t.Fatalf("membership cache holds %d, bound 3", n)
		}
		if n := e.a.accessible.len(); n != 3 {
			t.Fatalf("accessible cache holds %d, bound 3", n)
		}
		misses := e.obs.memberMiss.Load()
		e.canRead(users[0], msg) // evicted: a miss
		e.canRead(users[3], msg) // recent: a hit
		if got := e.obs.memberMiss.Load() - misses; got != 1 {
			t.Fatalf("misses = %d, want 1 (oldest evicted, newest kept)", got)
		}
	})
}

func TestReadAfterStoreFailure(t *testing.T) {
	st := openSQLite(t)
	e := newEnv(t, st, Config{Allowlist: true, RequireRelayMembership: true})
	alice, bob := newUser(t), newUser(t)
	open := e.createChannel(alice, store.Open)
	priv := e.createChannel(alice, store.Private)
	inOpen := alice.event(t, nostr.KindChatMessage, h(open))
	inPriv := alice.event(t, nostr.KindChatMessage, h(priv))
	if !e.canRead(bob, inOpen) {
		t.Fatal("open channel unreadable")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Cached answers still serve; anything needing the store denies.
	if !e.canRead(bob, inOpen) {
		t.Fatal("cached open channel unreadable")
	}
	if e.canRead(bob, inPriv) {
		t.Fatal("read allowed on a storage error")
	}
	if _, err := e.a.Scope(e.ctx, bob.pk); err == nil {
		t.Fatal("Scope without a store succeeded")
	}
	_, err := e.a.CheckWrite(e.ctx, bob.pk, bob.event(t, nostr.KindChatMessage, h(priv)))
	if err == nil {
		t.Fatal("CheckWrite without a store succeeded")
	}
	if _, ok := err.(*Refusal); ok {
		t.Fatalf("storage failure reported as a refusal: %v", err)
	}
	d, err := e.a.Authorize(e.ctx, bob.pk)
	if err == nil || d != AuthDeniedAllowlist {
		t.Fatalf("Authorize without a store: %v, %v", d, err)
	}
}
