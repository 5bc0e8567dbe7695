package access

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// TestInvalidationAcrossNodes runs two nodes over one store, joined by a
// publisher that forwards invalidations as the Redis bus will.
func TestInvalidationAcrossNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		n1 := newEnv(t, st, Config{})
		n2 := newEnv(t, st, Config{})
		to2 := &recordPublisher{to: []*Access{n2.a}}
		to1 := &recordPublisher{to: []*Access{n1.a}}
		n1.a.SetPublisher(to2)
		n2.a.SetPublisher(to1)

		alice, bob := newUser(t), newUser(t)
		priv := n1.createChannel(alice, store.Private)
		if got := to2.published(); len(got) != 1 ||
			!reflect.DeepEqual(got[0], Invalidation{Channel: priv, Pubkeys: []string{alice.pk}}) {
			t.Fatalf("create published %+v", got)
		}
		msg := alice.event(t, nostr.KindChatMessage, h(priv))

		// Node 2 caches "bob is not a member".
		if n2.canRead(bob, msg) || len(n2.scope(bob)) != 0 {
			t.Fatal("non-member reads on node 2")
		}
		// Node 1 adds bob; node 2 sees it at once, with no clock moving.
		n1.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", bob.pk}))
		want := Invalidation{Channel: priv, Pubkeys: []string{bob.pk}}
		if got := to2.published(); len(got) != 2 || !reflect.DeepEqual(got[1], want) {
			t.Fatalf("add published %+v, want %+v last", got, want)
		}
		if !n2.canRead(bob, msg) || !slices.Equal(n2.scope(bob), []string{priv}) {
			t.Fatal("node 2 did not apply the add invalidation")
		}
		if err := n2.write(bob, bob.event(t, nostr.KindChatMessage, h(priv))); err != nil {
			t.Fatalf("node 2 write by new member: %v", err)
		}
		// Bob leaves through node 2; node 1 had him cached as a member.
		if !n1.canRead(bob, msg) {
			t.Fatal("member cannot read on node 1")
		}
		n2.mustWrite(bob, bob.event(t, nostr.KindLeaveChannel, h(priv)))
		if got := to1.published(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("leave published %+v", got)
		}
		if n1.canRead(bob, msg) || len(n1.scope(bob)) != 0 {
			t.Fatal("node 1 did not apply the leave invalidation")
		}
		n1.refused(bob, bob.event(t, nostr.KindChatMessage, h(priv)), "restricted: not a channel member")

		// Events that change nothing publish nothing.
		before := len(to2.published())
		n1.mustWrite(alice, alice.event(t, nostr.KindChatMessage, h(priv)))
		n1.mustWrite(alice, alice.event(t, 1))
		if len(to2.published()) != before {
			t.Fatal("an event without a channel change published an invalidation")
		}
	})
}

func TestAppliedPublishFailure(t *testing.T) {
	e := newEnv(t, openSQLite(t), Config{})
	pub := &recordPublisher{fail: errors.New("bus down")}
	e.a.SetPublisher(pub)
	alice, bob := newUser(t), newUser(t)
	priv := e.createChannel(alice, store.Private)
	msg := alice.event(t, nostr.KindChatMessage, h(priv))
	if e.canRead(bob, msg) {
		t.Fatal("non-member reads")
	}
	// The publish fails; the local invalidation happens regardless.
	e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", bob.pk}))
	if len(pub.published()) != 2 {
		t.Fatalf("publisher called %d times, want 2", len(pub.published()))
	}
	if !e.canRead(bob, msg) {
		t.Fatal("local invalidation skipped when publishing failed")
	}
	// Cleared publisher: nothing more is published.
	e.a.SetPublisher(nil)
	e.mustWrite(alice, alice.event(t, nostr.KindRemoveMember, h(priv), []string{"p", bob.pk}))
	if len(pub.published()) != 2 {
		t.Fatal("cleared publisher still called")
	}
	if e.canRead(bob, msg) {
		t.Fatal("removed member reads")
	}
}

func TestInvalidationFor(t *testing.T) {
	cases := []struct {
		ch   *store.ChannelChange
		want Invalidation
		ok   bool
	}{
		{nil, Invalidation{}, false},
		{&store.ChannelChange{}, Invalidation{}, false},
		{&store.ChannelChange{Create: &store.Channel{ID: "c", Creator: "a"}}, Invalidation{Channel: "c", Pubkeys: []string{"a"}}, true},
		{&store.ChannelChange{Channel: "c", AddMember: "b", AddRole: store.RoleAdmin}, Invalidation{Channel: "c", Pubkeys: []string{"b"}}, true},
		{&store.ChannelChange{Channel: "c", RemoveMember: "b"}, Invalidation{Channel: "c", Pubkeys: []string{"b"}}, true},
		{&store.ChannelChange{Channel: "c", AddMember: "a", RemoveMember: "b"}, Invalidation{Channel: "c", Pubkeys: []string{"a", "b"}}, true},
	}
	for i, c := range cases {
		got, ok := InvalidationFor(c.ch)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: %+v, %v; want %+v, %v", i, got, ok, c.want, c.ok)
		}
	}
	b, err := json.Marshal(Invalidation{Channel: "c", Pubkeys: []string{"a"}})
	if err != nil || string(b) != `{"channel":"c","pubkeys":["a"]}` {
		t.Fatalf("JSON %s, %v", b, err)
	}
}

// TestApplyInvalidationForms checks each form of Invalidation drops exactly
// the entries it names.
func TestApplyInvalidationForms(t *testing.T) {
	a := newWithClock(nil, Config{}, nil, newFakeClock().Now)
	fill := func() {
		for _, c := range []string{"c1", "c2"} {
			for _, p := range []string{"p1", "p2"} {
				a.members.put(memberKey{c, p}, store.RoleMember)
			}
		}
		a.accessible.put("p1", []string{"c1"})
		a.accessible.put("p2", []string{"c2"})
		a.channels.put("c1", store.Channel{ID: "c1"})
	}
	has := func(c, p string) bool { _, ok := a.members.get(memberKey{c, p}); return ok }
	hasAcc := func(p string) bool { _, ok := a.accessible.get(p); return ok }

	fill()
	a.ApplyInvalidation(Invalidation{Channel: "c1", Pubkeys: []string{"p1"}})
	if has("c1", "p1") || hasAcc("p1") || !has("c1", "p2") || !has("c2", "p1") || !hasAcc("p2") {
		t.Fatal("channel+pubkey form dropped the wrong entries")
	}

	fill()
	a.ApplyInvalidation(Invalidation{Channel: "c1"})
	if has("c1", "p1") || has("c1", "p2") || !has("c2", "p1") || !has("c2", "p2") || hasAcc("p1") || hasAcc("p2") {
		t.Fatal("channel-only form dropped the wrong entries")
	}

	fill()
	a.ApplyInvalidation(Invalidation{Pubkeys: []string{"p2"}})
	if has("c1", "p2") || has("c2", "p2") || !has("c1", "p1") || !has("c2", "p1") || hasAcc("p2") || !hasAcc("p1") {
		t.Fatal("pubkey-only form dropped the wrong entries")
	}

	fill()
	a.ApplyInvalidation(Invalidation{})
	if a.members.len() != 0 || a.accessible.len() != 0 {
		t.Fatal("empty invalidation did not drop everything")
	}
	if _, ok := a.channels.get("c1"); !ok {
		t.Fatal("channel metadata dropped by a membership invalidation")
	}
}

func TestAuthorize(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		listed, member, both, neither := newUser(t), newUser(t), newUser(t), newUser(t)
		for _, u := range []user{listed, both} {
			if err := st.Allowlist().Add(ctx, u.pk); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []user{member, both} {
			if err := st.RelayMembers().Add(ctx, u.pk); err != nil {
				t.Fatal(err)
			}
		}
		type row struct {
			cfg  Config
			u    user
			want AuthDecision
		}
		off, al, rm, all := Config{}, Config{Allowlist: true}, Config{RequireRelayMembership: true},
			Config{Allowlist: true, RequireRelayMembership: true}
		for i, r := range []row{
			{off, neither, AuthOK},
			{al, neither, AuthDeniedAllowlist}, {al, listed, AuthOK}, {al, member, AuthDeniedAllowlist},
			{rm, neither, AuthDeniedNotRelayMember}, {rm, member, AuthOK}, {rm, listed, AuthDeniedNotRelayMember},
			// Allowlist first, then membership.
			{all, neither, AuthDeniedAllowlist}, {all, member, AuthDeniedAllowlist},
			{all, listed, AuthDeniedNotRelayMember}, {all, both, AuthOK},
		} {
			got, err := New(st, r.cfg, nil).Authorize(ctx, r.u.pk)
			if err != nil || got != r.want {
				t.Errorf("row %d: %v, %v; want %v", i, got, err, r.want)
			}
		}
		// Removal takes effect for the next AUTH.
		if err := st.Allowlist().Remove(ctx, both.pk); err != nil {
			t.Fatal(err)
		}
		if got, _ := New(st, all, nil).Authorize(ctx, both.pk); got != AuthDeniedAllowlist {
			t.Fatalf("removed key: %v", got)
		}
	})
	for d, s := range map[AuthDecision]string{AuthOK: "ok", AuthDeniedAllowlist: "allowlist_denied",
		AuthDeniedNotRelayMember: "not_relay_member", AuthDecision(9): "AuthDecision(9)"} {
		if d.String() != s {
			t.Errorf("%d.String() = %q, want %q", d, d.String(), s)
		}
	}
}
