package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Channel ids (UUIDs, as the relay uses).
const (
	chOpen    = "6f1d8c1e-0d4a-4c55-9b1e-000000000001"
	chPrivate = "6f1d8c1e-0d4a-4c55-9b1e-000000000002"
	chSecret  = "6f1d8c1e-0d4a-4c55-9b1e-000000000003"
	chUnknown = "6f1d8c1e-0d4a-4c55-9b1e-00000000dead"
)

// createChannel stores a 9007 by creator with its Create change.
func createChannel(t *testing.T, s store.Store, creator *Signer, id string, vis store.Visibility, at int64) *nostr.Event {
	t.Helper()
	ev := creator.Event(nostr.KindCreateChannel, at, "", []string{"h", id}, []string{"name", "room " + id[len(id)-4:]}, []string{"visibility", string(vis)})
	saveChange(t, s, ev, createChange(ev, id, vis))
	return ev
}

func createChange(ev *nostr.Event, id string, vis store.Visibility) *store.ChannelChange {
	name, _ := ev.Tag("name")
	return &store.ChannelChange{Create: &store.Channel{ID: id, Name: name, Visibility: vis, Creator: ev.PubKey, CreatedAt: ev.CreatedAt}}
}

func addMember(t *testing.T, s store.Store, admin *Signer, channel string, who *Signer, role store.Role, at int64) {
	t.Helper()
	ev := admin.Event(nostr.KindAddMember, at, "", []string{"h", channel}, []string{"p", who.PubKey})
	saveChange(t, s, ev, &store.ChannelChange{Channel: channel, AddMember: who.PubKey, AddRole: role})
}

func role(t *testing.T, s store.Store, channel string, who *Signer) store.Role {
	t.Helper()
	r, err := s.Membership(ctx(t), channel, who.PubKey)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("membership: %v", err)
	}
	return r
}

func testChannels(t *testing.T, s store.Store) {
	create := createChannel(t, s, alice, chOpen, store.Open, base)
	c, err := s.Channel(ctx(t), chOpen)
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	want := store.Channel{ID: chOpen, Name: "room 0001", Visibility: store.Open, Creator: alice.PubKey, CreatedAt: base}
	if c != want {
		t.Fatalf("channel: got %+v, want %+v", c, want)
	}
	if r := role(t, s, chOpen, alice); r != store.RoleAdmin {
		t.Fatalf("creator role %q", r)
	}
	expect(t, "9007 stored", query(t, s, all, nostr.Filter{Tags: map[string][]string{"h": {chOpen}}}), create)
	if _, err := s.Channel(ctx(t), chUnknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}

	// The same event again is a duplicate; another 9007 for the id exists.
	saveErr(t, s, create, createChange(create, chOpen, store.Open), store.ErrDuplicate)
	again := bob.Event(nostr.KindCreateChannel, base+1, "", []string{"h", chOpen}, []string{"name", "mine"})
	saveErr(t, s, again, createChange(again, chOpen, store.Private), store.ErrChannelExists)
	expect(t, "losing 9007 not stored", query(t, s, all, nostr.Filter{IDs: []string{again.ID}}))
	if r := role(t, s, chOpen, bob); r != "" {
		t.Fatalf("failed create gave bob role %q", r)
	}
	if c2, _ := s.Channel(ctx(t), chOpen); c2 != want {
		t.Fatalf("failed create changed the channel: %+v", c2)
	}

	// Events naming unknown channels are refused, whatever their kind.
	saveErr(t, s, alice.Event(9, base+2, "hi", []string{"h", chUnknown}), nil, store.ErrNotFound)
	saveErr(t, s, alice.Event(1, base+2, "hi", []string{"h", chUnknown}), nil, store.ErrNotFound)
	expect(t, "nothing in unknown channel", query(t, s, all, nostr.Filter{Tags: map[string][]string{"h": {chUnknown}}}))

	// Membership changes.
	createChannel(t, s, alice, chPrivate, store.Private, base+3)
	addMember(t, s, alice, chPrivate, bob, store.RoleMember, base+4)
	addMember(t, s, alice, chOpen, carol, store.RoleMember, base+5)
	if r := role(t, s, chPrivate, bob); r != store.RoleMember {
		t.Fatalf("bob role %q", r)
	}
	members, err := s.Members(ctx(t), chPrivate)
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	if len(members) != 2 || members[alice.PubKey] != store.RoleAdmin || members[bob.PubKey] != store.RoleMember {
		t.Fatalf("members: %v", members)
	}
	memberChannels := func(who *Signer) []string {
		ids, err := s.MemberChannels(ctx(t), who.PubKey)
		if err != nil {
			t.Fatalf("member channels: %v", err)
		}
		slices.Sort(ids)
		return ids
	}
	if got := memberChannels(alice); !slices.Equal(got, []string{chOpen, chPrivate}) {
		t.Fatalf("alice's channels %v", got)
	}
	if got := memberChannels(bob); !slices.Equal(got, []string{chPrivate}) {
		t.Fatalf("bob's channels %v", got)
	}
	// Adding again upserts the role.
	addMember(t, s, alice, chPrivate, bob, store.RoleAdmin, base+6)
	if r := role(t, s, chPrivate, bob); r != store.RoleAdmin {
		t.Fatalf("bob promoted: role %q", r)
	}
	// An empty role means member.
	addMember(t, s, alice, chPrivate, carol, "", base+7)
	if r := role(t, s, chPrivate, carol); r != store.RoleMember {
		t.Fatalf("default role %q", r)
	}

	remove := alice.Event(nostr.KindRemoveMember, base+8, "", []string{"h", chPrivate}, []string{"p", bob.PubKey})
	saveChange(t, s, remove, &store.ChannelChange{Channel: chPrivate, RemoveMember: bob.PubKey})
	if r := role(t, s, chPrivate, bob); r != "" {
		t.Fatalf("removed bob still %q", r)
	}
	if got := memberChannels(bob); len(got) != 0 {
		t.Fatalf("removed bob's channels %v", got)
	}
	// A leave (the member removes themselves) works the same way.
	leave := carol.Event(nostr.KindLeaveChannel, base+9, "", []string{"h", chOpen})
	saveChange(t, s, leave, &store.ChannelChange{Channel: chOpen, RemoveMember: carol.PubKey})
	if got := memberChannels(carol); !slices.Equal(got, []string{chPrivate}) {
		t.Fatalf("carol after leaving: %v", got)
	}
	if _, err := s.Membership(ctx(t), chOpen, carol.PubKey); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("membership of a non-member: %v", err)
	}
	if m, err := s.Members(ctx(t), chUnknown); err != nil || len(m) != 0 {
		t.Fatalf("members of unknown channel: %v %v", m, err)
	}
}

// testChannelChangeAtomic checks that a refused event leaves channels as
// they were and a refused change leaves the event unstored.
func testChannelChangeAtomic(t *testing.T, s store.Store) {
	createChannel(t, s, alice, chPrivate, store.Private, base)

	// Unknown channel: neither the event nor the membership.
	ev := alice.Event(nostr.KindAddMember, base+1, "", []string{"h", chUnknown}, []string{"p", bob.PubKey})
	saveErr(t, s, ev, &store.ChannelChange{Channel: chUnknown, AddMember: bob.PubKey, AddRole: store.RoleMember}, store.ErrNotFound)
	if r := role(t, s, chUnknown, bob); r != "" {
		t.Fatalf("membership in unknown channel: %q", r)
	}

	// A duplicate event does not apply its change a second time.
	add := alice.Event(nostr.KindAddMember, base+2, "", []string{"h", chPrivate}, []string{"p", bob.PubKey})
	saveChange(t, s, add, &store.ChannelChange{Channel: chPrivate, AddMember: bob.PubKey, AddRole: store.RoleMember})
	remove := alice.Event(nostr.KindRemoveMember, base+3, "", []string{"h", chPrivate}, []string{"p", bob.PubKey})
	saveChange(t, s, remove, &store.ChannelChange{Channel: chPrivate, RemoveMember: bob.PubKey})
	saveErr(t, s, add, &store.ChannelChange{Channel: chPrivate, AddMember: bob.PubKey, AddRole: store.RoleMember}, store.ErrDuplicate)
	if r := role(t, s, chPrivate, bob); r != "" {
		t.Fatalf("duplicate re-applied its change: %q", r)
	}

	// A change for an unknown channel fails the whole save.
	note := alice.Event(1, base+4, "note")
	saveErr(t, s, note, &store.ChannelChange{Channel: chUnknown, AddMember: bob.PubKey}, store.ErrNotFound)
	expect(t, "event of failed change", query(t, s, all, nostr.Filter{IDs: []string{note.ID}}))
}

func testScope(t *testing.T, s store.Store) {
	cOpen := createChannel(t, s, alice, chOpen, store.Open, base)
	cPriv := createChannel(t, s, alice, chPrivate, store.Private, base+1)
	cSecret := createChannel(t, s, bob, chSecret, store.Private, base+2)
	n := carol.Event(1, base+10, "no channel")
	o := alice.Event(9, base+11, "open", []string{"h", chOpen})
	p := alice.Event(9, base+12, "private", []string{"h", chPrivate})
	q := bob.Event(9, base+13, "secret", []string{"h", chSecret})
	for _, ev := range []*nostr.Event{n, o, p, q} {
		save(t, s, ev)
	}
	chat := nostr.Filter{Kinds: []int{1, 9}}
	stranger := store.Scope{}
	member := store.Scope{Channels: []string{chPrivate}}
	both := store.Scope{Channels: []string{chPrivate, chSecret}}

	expect(t, "stranger", query(t, s, stranger, chat), n, o)
	expect(t, "member", query(t, s, member, chat), n, o, p)
	expect(t, "both", query(t, s, both, chat), n, o, p, q)
	expect(t, "unrestricted", query(t, s, all, chat), n, o, p, q)
	expect(t, "stranger everything", query(t, s, stranger, nostr.Filter{}), n, o, cOpen)
	expect(t, "member everything", query(t, s, member, nostr.Filter{}), n, o, p, cOpen, cPriv)
	expect(t, "unrestricted everything", query(t, s, all, nostr.Filter{}), n, o, p, q, cOpen, cPriv, cSecret)

	hf := func(ids ...string) nostr.Filter {
		return nostr.Filter{Kinds: []int{9}, Tags: map[string][]string{"h": ids}}
	}
	expect(t, "#h open", query(t, s, stranger, hf(chOpen)), o)
	expect(t, "#h private, stranger", query(t, s, stranger, hf(chPrivate)))
	expect(t, "#h private, member", query(t, s, member, hf(chPrivate)), p)
	expect(t, "#h both, member of one", query(t, s, member, hf(chPrivate, chSecret)), p)
	expect(t, "#h all, member of one", query(t, s, member, hf(chOpen, chPrivate, chSecret)), o, p)
	expect(t, "by id, stranger", query(t, s, stranger, nostr.Filter{IDs: []string{p.ID, q.ID}}))
	expect(t, "by author, stranger", query(t, s, stranger, nostr.Filter{Authors: []string{bob.PubKey}}))
	expect(t, "9007s, stranger", query(t, s, stranger, nostr.Filter{Kinds: []int{nostr.KindCreateChannel}}), cOpen)
	expect(t, "multi-letter tag, stranger", query(t, s, stranger, nostr.Filter{Tags: map[string][]string{"name": {"room 0001", "room 0002", "room 0003"}}}), cOpen)
	expect(t, "multi-letter tag, member", query(t, s, member, nostr.Filter{Tags: map[string][]string{"name": {"room 0001", "room 0002", "room 0003"}}}), cOpen, cPriv)
	expect(t, "overlapping filters, member", query(t, s, member, hf(chPrivate), nostr.Filter{Authors: []string{alice.PubKey}, Kinds: []int{9}}), o, p)

	counts := []struct {
		name    string
		scope   store.Scope
		filters []nostr.Filter
		want    int64
	}{
		{"stranger", stranger, []nostr.Filter{chat}, 2},
		{"member", member, []nostr.Filter{chat}, 3},
		{"both", both, []nostr.Filter{chat}, 4},
		{"unrestricted", all, []nostr.Filter{chat}, 4},
		{"#h private, stranger", stranger, []nostr.Filter{hf(chPrivate)}, 0},
		{"#h private, member", member, []nostr.Filter{hf(chPrivate)}, 1},
		{"#h all, member", member, []nostr.Filter{hf(chOpen, chPrivate, chSecret)}, 2},
		{"by id, stranger", stranger, []nostr.Filter{{IDs: []string{p.ID, q.ID}}}, 0},
		{"overlap, member", member, []nostr.Filter{hf(chPrivate), {Kinds: []int{9}}, chat}, 3},
		{"everything, stranger", stranger, []nostr.Filter{{}}, 3},
	}
	for _, c := range counts {
		if got := count(t, s, c.scope, c.filters...); got != c.want {
			t.Errorf("count %s: got %d, want %d", c.name, got, c.want)
		}
	}
}
