package access

import (
	"errors"
	"strings"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

func TestHTagRules(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice := newUser(t)
		open := e.createChannel(alice, store.Open)
		other := e.createChannel(alice, store.Open)

		e.refused(alice, alice.event(t, 1, h(open), h(other)),
			"invalid: events may carry at most one h tag")
		e.refused(alice, alice.event(t, 9, h(open), h(open)),
			"invalid: events may carry at most one h tag")
		for _, k := range []int{9, 9000, 9001, 9002, 9007, 9021, 9022} {
			e.refused(alice, alice.event(t, k), "invalid: channel-scoped events must include an h tag")
		}
		e.refused(alice, alice.event(t, 9, []string{"h"}), "invalid: h tag must name a channel")
		e.refused(alice, alice.event(t, 9, h("")), "invalid: h tag must name a channel")

		// Kinds outside channels pass without an h tag and change nothing.
		for _, k := range []int{0, 1, 5, 1059, 10002, 30023} {
			ev := alice.event(t, k)
			ch, err := e.a.CheckWrite(e.ctx, alice.pk, ev)
			if err != nil || ch != nil {
				t.Fatalf("kind %d without h: change %v, err %v", k, ch, err)
			}
		}

		// Any h must name an existing channel, whatever the kind.
		missing := relaytest.NewUUID()
		for _, k := range []int{1, 9, 9000, 9001, 9021, 9022, 30023} {
			tags := [][]string{h(missing)}
			if k == 9000 || k == 9001 {
				tags = append(tags, []string{"p", alice.pk})
			}
			e.refused(alice, alice.event(t, k, tags...), "invalid: unknown channel")
		}
		e.refused(alice, alice.event(t, 9, h("general")), "invalid: unknown channel")
		e.refused(alice, alice.event(t, 9, h(strings.ToUpper(open))), "invalid: unknown channel")

		// A kind-1 note in an open channel is stored.
		e.mustWrite(alice, alice.event(t, 1, h(open)))
	})
}

func TestCreateChannel(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice, bob := newUser(t), newUser(t)
		create := func(tags ...[]string) *nostr.Event {
			return alice.event(t, nostr.KindCreateChannel, tags...)
		}
		id := relaytest.NewUUID()
		name := []string{"name", "general"}

		for _, bad := range []string{strings.ToUpper(id), "general", id[:35], id + "0",
			strings.ReplaceAll(id, "-", ""), "{" + id[1:35] + "}", strings.Replace(id, "-", "x", 1)} {
			e.refused(alice, create(h(bad), name), "invalid: channel id must be a lowercase UUID")
		}
		e.refused(alice, create(h(id)), "invalid: channel name required")
		e.refused(alice, create(h(id), []string{"name", ""}), "invalid: channel name required")
		e.refused(alice, create(h(id), []string{"name"}), "invalid: channel name required")
		e.refused(alice, create(h(id), name, []string{"name", "x"}), "invalid: events may carry at most one name tag")
		e.refused(alice, create(h(id), []string{"name", strings.Repeat("n", MaxChannelNameBytes+1)}),
			"invalid: channel name too long")
		e.refused(alice, create(h(id), name, []string{"visibility", "secret"}),
			"invalid: visibility must be open or private")
		e.refused(alice, create(h(id), name, []string{"visibility", "Private"}),
			"invalid: visibility must be open or private")
		e.refused(alice, create(h(id), name, []string{"visibility"}),
			"invalid: visibility must be open or private")
		e.refused(alice, create(h(id), name, []string{"visibility", "open"}, []string{"visibility", "open"}),
			"invalid: events may carry at most one visibility tag")

		// Default visibility is open; the creator is admin.
		ev := create(h(id), []string{"name", strings.Repeat("n", MaxChannelNameBytes)})
		change, err := e.a.CheckWrite(e.ctx, alice.pk, ev)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Channel{ID: id, Name: strings.Repeat("n", MaxChannelNameBytes), Visibility: store.Open,
			Creator: alice.pk, CreatedAt: ev.CreatedAt}
		if change == nil || change.Create == nil || *change.Create != want ||
			change.AddMember != "" || change.RemoveMember != "" {
			t.Fatalf("change = %+v, want Create %+v only", change, want)
		}
		e.mustWrite(alice, ev)
		got, err := st.Channel(e.ctx, id)
		if err != nil || got.Visibility != store.Open || got.Creator != alice.pk {
			t.Fatalf("stored channel %+v, %v", got, err)
		}
		if r := e.storeRole(id, alice.pk); r != store.RoleAdmin {
			t.Fatalf("creator role %q, want admin", r)
		}

		// An id in use: duplicate, whoever asks and whatever the visibility.
		e.refused(alice, create(h(id), name), "duplicate: channel already exists")
		e.refused(bob, bob.event(t, nostr.KindCreateChannel, h(id), name, []string{"visibility", "private"}),
			"duplicate: channel already exists")

		priv := relaytest.NewUUID()
		e.mustWrite(bob, bob.event(t, nostr.KindCreateChannel, h(priv), name, []string{"visibility", "private"}))
		if got, _ := st.Channel(e.ctx, priv); got.Visibility != store.Private {
			t.Fatalf("visibility %q, want private", got.Visibility)
		}

		// Two creators racing past the pre-check: the store settles it.
		race := relaytest.NewUUID()
		ev1 := alice.event(t, nostr.KindCreateChannel, h(race), name)
		ev2 := bob.event(t, nostr.KindCreateChannel, h(race), name)
		c1, err1 := e.a.CheckWrite(e.ctx, alice.pk, ev1)
		c2, err2 := e.a.CheckWrite(e.ctx, bob.pk, ev2)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if err := st.Save(e.ctx, ev1, c1); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(e.ctx, ev2, c2); !errors.Is(err, store.ErrChannelExists) {
			t.Fatalf("second create: %v, want ErrChannelExists", err)
		}
	})
}

func TestJoinLeave(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice, bob, carol := newUser(t), newUser(t), newUser(t)
		open := e.createChannel(alice, store.Open)
		priv := e.createChannel(alice, store.Private)

		e.mustWrite(bob, bob.event(t, nostr.KindJoinChannel, h(open)))
		if r := e.storeRole(open, bob.pk); r != store.RoleMember {
			t.Fatalf("bob role after join %q", r)
		}
		e.refused(bob, bob.event(t, nostr.KindJoinChannel, h(priv)), "restricted: channel is private")
		if r := e.storeRole(priv, bob.pk); r != "" {
			t.Fatalf("bob joined a private channel: %q", r)
		}

		// Joining again changes nothing; an admin is not demoted by it.
		for _, u := range []user{alice, bob} {
			ev := u.event(t, nostr.KindJoinChannel, h(open))
			change, err := e.a.CheckWrite(e.ctx, u.pk, ev)
			if err != nil || change != nil {
				t.Fatalf("repeat join: change %+v, err %v", change, err)
			}
			e.mustWrite(u, ev)
		}
		if r := e.storeRole(open, alice.pk); r != store.RoleAdmin {
			t.Fatalf("admin demoted by join: %q", r)
		}

		// Leave.
		ev := bob.event(t, nostr.KindLeaveChannel, h(open))
		change, err := e.a.CheckWrite(e.ctx, bob.pk, ev)
		if err != nil || change == nil || change.Channel != open || change.RemoveMember != bob.pk || change.AddMember != "" {
			t.Fatalf("leave change %+v, err %v", change, err)
		}
		e.mustWrite(bob, ev)
		if r := e.storeRole(open, bob.pk); r != "" {
			t.Fatalf("bob still %q after leaving", r)
		}
		// A non-member's leave of an open channel is harmless; of a
		// private channel it is a non-member's write.
		ev = carol.event(t, nostr.KindLeaveChannel, h(open))
		if change, err := e.a.CheckWrite(e.ctx, carol.pk, ev); err != nil || change != nil {
			t.Fatalf("non-member leave of open: change %+v, err %v", change, err)
		}
		e.refused(carol, carol.event(t, nostr.KindLeaveChannel, h(priv)), "restricted: not a channel member")

		// A private member leaves.
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", carol.pk}))
		e.mustWrite(carol, carol.event(t, nostr.KindLeaveChannel, h(priv)))
		if r := e.storeRole(priv, carol.pk); r != "" {
			t.Fatalf("carol still %q after leaving", r)
		}
	})
}

func TestModeration(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice, bob, carol, dave := newUser(t), newUser(t), newUser(t), newUser(t)
		priv := e.createChannel(alice, store.Private)
		open := e.createChannel(alice, store.Open)
		p := func(u user, extra ...string) []string { return append([]string{"p", u.pk}, extra...) }

		// Shape first.
		e.refused(alice, alice.event(t, nostr.KindAddMember, h(priv)), "invalid: exactly one p tag required")
		e.refused(alice, alice.event(t, nostr.KindAddMember, h(priv), p(bob), p(carol)), "invalid: exactly one p tag required")
		e.refused(alice, alice.event(t, nostr.KindRemoveMember, h(priv)), "invalid: exactly one p tag required")
		e.refused(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", strings.ToUpper(bob.pk)}),
			"invalid: p tag must be a 64-character lowercase hex pubkey")
		e.refused(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p"}),
			"invalid: p tag must be a 64-character lowercase hex pubkey")
		e.refused(alice, alice.event(t, nostr.KindRemoveMember, h(priv), []string{"p", bob.pk[:63]}),
			"invalid: p tag must be a 64-character lowercase hex pubkey")
		e.refused(alice, alice.event(t, nostr.KindAddMember, h(priv), p(bob, "owner")), "invalid: role must be member or admin")

		// Non-admins, members or not, in private and open channels.
		e.refused(bob, bob.event(t, nostr.KindAddMember, h(priv), p(bob)), "restricted: not a channel admin")
		e.mustWrite(bob, bob.event(t, nostr.KindJoinChannel, h(open)))
		e.refused(bob, bob.event(t, nostr.KindAddMember, h(open), p(carol)), "restricted: not a channel admin")
		e.refused(bob, bob.event(t, nostr.KindRemoveMember, h(open), p(alice)), "restricted: not a channel admin")
		e.refused(bob, bob.event(t, 9002, h(open)), "restricted: not a channel admin")
		e.refused(bob, bob.event(t, 9020, h(open)), "restricted: not a channel admin")

		// The admin adds bob as member (no role, or "member", or "").
		ev := alice.event(t, nostr.KindAddMember, h(priv), p(bob))
		change, err := e.a.CheckWrite(e.ctx, alice.pk, ev)
		want := store.ChannelChange{Channel: priv, AddMember: bob.pk, AddRole: store.RoleMember}
		if err != nil || change == nil || *change != want {
			t.Fatalf("add change %+v, err %v; want %+v", change, err, want)
		}
		e.mustWrite(alice, ev)
		if r := e.storeRole(priv, bob.pk); r != store.RoleMember {
			t.Fatalf("bob %q, want member", r)
		}
		e.refused(bob, bob.event(t, nostr.KindAddMember, h(priv), p(carol)), "restricted: not a channel admin")
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), p(carol, "")))
		if r := e.storeRole(priv, carol.pk); r != store.RoleMember {
			t.Fatalf("carol %q, want member", r)
		}

		// Promotion; a promoted admin can moderate at once.
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), p(bob, "admin")))
		if r := e.storeRole(priv, bob.pk); r != store.RoleAdmin {
			t.Fatalf("bob %q, want admin", r)
		}
		e.mustWrite(bob, bob.event(t, nostr.KindAddMember, h(priv), p(dave, "member")))
		// Naming no role for an existing member changes nothing.
		ev = bob.event(t, nostr.KindAddMember, h(priv), p(alice))
		if change, err := e.a.CheckWrite(e.ctx, bob.pk, ev); err != nil || change != nil {
			t.Fatalf("re-add without role: change %+v, err %v", change, err)
		}
		// Demotion by naming the role.
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), p(bob, "member")))
		if r := e.storeRole(priv, bob.pk); r != store.RoleMember {
			t.Fatalf("bob %q, want member after demotion", r)
		}
		e.refused(bob, bob.event(t, nostr.KindRemoveMember, h(priv), p(dave)), "restricted: not a channel admin")

		// Removal; removing a non-member changes nothing.
		ev = alice.event(t, nostr.KindRemoveMember, h(priv), p(dave))
		change, err = e.a.CheckWrite(e.ctx, alice.pk, ev)
		want = store.ChannelChange{Channel: priv, RemoveMember: dave.pk}
		if err != nil || change == nil || *change != want {
			t.Fatalf("remove change %+v, err %v; want %+v", change, err, want)
		}
		e.mustWrite(alice, ev)
		if r := e.storeRole(priv, dave.pk); r != "" {
			t.Fatalf("dave %q after removal", r)
		}
		ev = alice.event(t, nostr.KindRemoveMember, h(priv), p(dave))
		if change, err := e.a.CheckWrite(e.ctx, alice.pk, ev); err != nil || change != nil {
			t.Fatalf("remove non-member: change %+v, err %v", change, err)
		}

		// Other moderation kinds: admins only, no membership effect.
		ev = alice.event(t, 9002, h(priv))
		if change, err := e.a.CheckWrite(e.ctx, alice.pk, ev); err != nil || change != nil {
			t.Fatalf("9002 by admin: change %+v, err %v", change, err)
		}
	})
}

func TestWriteAccess(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, Config{})
		alice, bob, carol := newUser(t), newUser(t), newUser(t)
		open := e.createChannel(alice, store.Open)
		priv := e.createChannel(alice, store.Private)

		// Open: anyone writes, member or not.
		e.mustWrite(carol, carol.event(t, nostr.KindChatMessage, h(open)))
		e.mustWrite(carol, carol.event(t, 7, h(open)))
		// Private: members only.
		e.refused(carol, carol.event(t, nostr.KindChatMessage, h(priv)), "restricted: not a channel member")
		e.refused(carol, carol.event(t, 1, h(priv)), "restricted: not a channel member")
		e.refused(carol, carol.event(t, nostr.KindDeletion, h(priv)), "restricted: not a channel member")
		e.mustWrite(alice, alice.event(t, nostr.KindChatMessage, h(priv)))

		// Added: the cached "not a member" answer is dropped at once.
		e.refused(bob, bob.event(t, nostr.KindChatMessage, h(priv)), "restricted: not a channel member")
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", bob.pk}))
		e.mustWrite(bob, bob.event(t, nostr.KindChatMessage, h(priv)))
		// Removed: denied at once on this node, with the positive answer
		// cached a moment before.
		e.mustWrite(bob, bob.event(t, nostr.KindChatMessage, h(priv)))
		e.mustWrite(alice, alice.event(t, nostr.KindRemoveMember, h(priv), []string{"p", bob.pk}))
		e.refused(bob, bob.event(t, nostr.KindChatMessage, h(priv)), "restricted: not a channel member")
		// Left: same.
		e.mustWrite(alice, alice.event(t, nostr.KindAddMember, h(priv), []string{"p", carol.pk}))
		e.mustWrite(carol, carol.event(t, nostr.KindChatMessage, h(priv)))
		e.mustWrite(carol, carol.event(t, nostr.KindLeaveChannel, h(priv)))
		e.refused(carol, carol.event(t, nostr.KindChatMessage, h(priv)), "restricted: not a channel member")

		// Rules apply to the authenticated key, not the event's (gift
		// wraps are signed by throwaway keys).
		wrap := newUser(t).event(t, nostr.KindGiftWrap, h(priv))
		if _, err := e.a.CheckWrite(e.ctx, carol.pk, wrap); err == nil || err.Error() != "restricted: not a channel member" {
			t.Fatalf("gift wrap by non-member: %v", err)
		}
		if _, err := e.a.CheckWrite(e.ctx, alice.pk, wrap); err != nil {
			t.Fatalf("gift wrap by member: %v", err)
		}
	})
}

func TestRefusalError(t *testing.T) {
	var err error = &Refusal{Prefix: PrefixRestricted, Reason: ReasonNotMember}
	if err.Error() != "restricted: not a channel member" {
		t.Fatal(err.Error())
	}
	var r *Refusal
	if !errors.As(err, &r) || r.Prefix != "restricted" {
		t.Fatal("errors.As failed")
	}
}

func TestIsChannelID(t *testing.T) {
	for s, want := range map[string]bool{
		"123e4567-e89b-12d3-a456-426614174000":  true,
		"00000000-0000-0000-0000-000000000000":  true,
		"123E4567-e89b-12d3-a456-426614174000":  false,
		"123e4567e89b-12d3-a456-426614174000-":  false,
		"123e4567-e89b-12d3-a456-42661417400":   false,
		"123e4567-e89b-12d3-a456-4266141740000": false,
		"123e4567-e89b-12d3-a456-42661417400g":  false,
		"":                                      false,
	} {
		if got := IsChannelID(s); got != want {
			t.Errorf("IsChannelID(%q) = %v", s, got)
		}
	}
}
