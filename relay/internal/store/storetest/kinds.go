package storetest

import (
	"strconv"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

func testDuplicate(t *testing.T, s store.Store) {
	ev := alice.Event(1, base, "once")
	save(t, s, ev)
	saveErr(t, s, ev, nil, store.ErrDuplicate)
	if n := count(t, s, all, nostr.Filter{}); n != 1 {
		t.Fatalf("count after duplicate: %d", n)
	}
	// Regular kinds keep every version.
	save(t, s, alice.Event(1, base, "twice"))
	if n := count(t, s, all, nostr.Filter{Kinds: []int{1}}); n != 2 {
		t.Fatalf("two kind-1 events: count %d", n)
	}
}

func testReplaceable(t *testing.T, s store.Store) {
	for _, kind := range []int{0, 3, 10000, 10002, 19999} {
		p1 := alice.Event(kind, base+100, "p1")
		p2 := alice.Event(kind, base+200, "p2")
		p0 := alice.Event(kind, base+50, "p0")
		save(t, s, p1)
		save(t, s, p2)
		filter := nostr.Filter{Authors: []string{alice.PubKey}, Kinds: []int{kind}}
		expect(t, "newest kept", query(t, s, all, filter), p2)
		saveErr(t, s, p1, nil, store.ErrSuperseded)
		saveErr(t, s, p0, nil, store.ErrSuperseded)
		saveErr(t, s, p2, nil, store.ErrDuplicate)
		expect(t, "after losers", query(t, s, all, filter), p2)

		// Another author's slot is separate.
		b := bob.Event(kind, base+10, "bob")
		save(t, s, b)
		expect(t, "bob's own", query(t, s, all, nostr.Filter{Kinds: []int{kind}}), p2, b)
		if n := count(t, s, all, nostr.Filter{Kinds: []int{kind}}); n != 2 {
			t.Fatalf("kind %d count: %d", kind, n)
		}
		// The replaced version is gone from ids lookups too.
		expect(t, "replaced by id", query(t, s, all, nostr.Filter{IDs: []string{p1.ID}}))
	}
	// 20000+ is not replaceable; 9999 neither.
	save(t, s, alice.Event(9999, base, "x"))
	save(t, s, alice.Event(9999, base+1, "y"))
	if n := count(t, s, all, nostr.Filter{Kinds: []int{9999}}); n != 2 {
		t.Fatalf("kind 9999 is not replaceable: count %d", n)
	}
}

func testReplaceableTies(t *testing.T, s store.Store) {
	// Lower id arriving second replaces.
	lo, hi := lowHigh(alice.Event(0, base, "one"), alice.Event(0, base, "two"))
	save(t, s, hi)
	save(t, s, lo)
	expect(t, "low id wins", query(t, s, all, nostr.Filter{Kinds: []int{0}}), lo)
	saveErr(t, s, hi, nil, store.ErrSuperseded)

	// Higher id arriving second loses.
	lo, hi = lowHigh(alice.Event(10002, base, "one"), alice.Event(10002, base, "two"))
	save(t, s, lo)
	saveErr(t, s, hi, nil, store.ErrSuperseded)
	expect(t, "low id kept", query(t, s, all, nostr.Filter{Kinds: []int{10002}}), lo)

	// Same for addressable.
	lo, hi = lowHigh(alice.Event(30000, base, "one", []string{"d", "k"}), alice.Event(30000, base, "two", []string{"d", "k"}))
	save(t, s, hi)
	save(t, s, lo)
	saveErr(t, s, hi, nil, store.ErrSuperseded)
	expect(t, "addressable low id", query(t, s, all, nostr.Filter{Kinds: []int{30000}}), lo)
}

func testAddressable(t *testing.T, s store.Store) {
	const kind = 30023
	x1 := alice.Event(kind, base+100, "x1", []string{"d", "x"})
	y1 := alice.Event(kind, base+100, "y1", []string{"d", "y"})
	x2 := alice.Event(kind, base+200, "x2", []string{"d", "x"})
	save(t, s, x1)
	save(t, s, y1)
	save(t, s, x2)
	filter := nostr.Filter{Kinds: []int{kind}}
	expect(t, "per d", query(t, s, all, filter), x2, y1)
	saveErr(t, s, alice.Event(kind, base+150, "x old", []string{"d", "x"}), nil, store.ErrSuperseded)
	saveErr(t, s, x1, nil, store.ErrSuperseded)

	// No d tag and an empty d tag are the same address.
	none := alice.Event(kind, base+100, "no d")
	empty := alice.Event(kind, base+150, "empty d", []string{"d", ""})
	save(t, s, none)
	save(t, s, empty)
	expect(t, "empty d replaces missing d", query(t, s, all, filter), x2, y1, empty)

	// Another author or kind is another address.
	bx := bob.Event(kind, base+50, "bob x", []string{"d", "x"})
	save(t, s, bx)
	ox := alice.Event(kind+1, base+50, "other kind x", []string{"d", "x"})
	save(t, s, ox)
	expect(t, "separate addresses", query(t, s, all, nostr.Filter{Tags: map[string][]string{"d": {"x"}}}), x2, bx, ox)
	// The d tag is queryable like any single-letter tag.
	expect(t, "#d", query(t, s, all, nostr.Filter{Authors: []string{alice.PubKey}, Kinds: []int{kind}, Tags: map[string][]string{"d": {"y"}}}), y1)
}

// deletion makes a kind 5 event with the given tags.
func deletion(by *Signer, at int64, tags ...[]string) *nostr.Event {
	return by.Event(nostr.KindDeletion, at, "", tags...)
}

func testDeletionByID(t *testing.T, s store.Store) {
	e1 := alice.Event(1, base+10, "e1", []string{"t", "x"})
	e2 := alice.Event(1, base+20, "e2")
	eb := bob.Event(1, base+30, "eb")
	later := alice.Event(1, base+40, "not yet stored")
	for _, ev := range []*nostr.Event{e1, e2, eb} {
		save(t, s, ev)
	}
	del := deletion(alice, base+100, []string{"e", e1.ID}, []string{"e", eb.ID}, []string{"e", later.ID}, []string{"e", "not-an-id"})
	save(t, s, del)

	expect(t, "after deletion", query(t, s, all, nostr.Filter{Kinds: []int{1}}), e2, eb)
	expect(t, "deleted by id", query(t, s, all, nostr.Filter{IDs: []string{e1.ID}}))
	expect(t, "deleted by tag", query(t, s, all, nostr.Filter{Tags: map[string][]string{"t": {"x"}}}))
	expect(t, "deletion stored", query(t, s, all, nostr.Filter{Kinds: []int{5}}), del)
	if n := count(t, s, all, nostr.Filter{Authors: []string{alice.PubKey}}); n != 2 {
		t.Fatalf("count after deletion: %d (want e2 and the deletion)", n)
	}
	// A deleted event may not come back; one deleted before it arrived
	// is refused too.
	saveErr(t, s, e1, nil, store.ErrDeleted)
	saveErr(t, s, later, nil, store.ErrDeleted)
	saveErr(t, s, eb, nil, store.ErrDuplicate)

	// Nobody deletes another author's events, now or in advance.
	future := alice.Event(1, base+50, "future")
	save(t, s, deletion(bob, base+110, []string{"e", e2.ID}, []string{"e", future.ID}))
	expect(t, "bob cannot delete alice's", query(t, s, all, nostr.Filter{IDs: []string{e2.ID}}), e2)
	save(t, s, future)

	// A deletion of a deletion changes nothing.
	save(t, s, deletion(alice, base+120, []string{"e", del.ID}))
	expect(t, "deletion not deletable", query(t, s, all, nostr.Filter{IDs: []string{del.ID}}), del)
}

func testDeletionByAddress(t *testing.T, s store.Store) {
	const kind = 30023
	addr := func(signer *Signer, k int, d string) string {
		return strconv.Itoa(k) + ":" + signer.PubKey + ":" + d
	}
	x := alice.Event(kind, base+100, "x", []string{"d", "x"})
	y := alice.Event(kind, base+100, "y", []string{"d", "y"})
	z := alice.Event(kind, base+300, "z", []string{"d", "z"})
	meta := alice.Event(0, base+100, "meta")
	bobX := bob.Event(kind, base+100, "bob x", []string{"d", "x"})
	for _, ev := range []*nostr.Event{x, y, z, meta, bobX} {
		save(t, s, ev)
	}
	save(t, s, deletion(alice, base+200,
		[]string{"a", addr(alice, kind, "x")},
		[]string{"a", addr(alice, kind, "z")},
		[]string{"a", addr(alice, 0, "")},
		[]string{"a", addr(bob, kind, "x")},
		[]string{"a", "garbage"}))

	expect(t, "after a deletion", query(t, s, all, nostr.Filter{Kinds: []int{kind, 0}}), y, z, bobX)
	// Versions up to the deletion's time are refused; later ones are new.
	saveErr(t, s, alice.Event(kind, base+120, "x old", []string{"d", "x"}), nil, store.ErrDeleted)
	saveErr(t, s, alice.Event(kind, base+200, "x same second", []string{"d", "x"}), nil, store.ErrDeleted)
	saveErr(t, s, alice.Event(0, base+150, "meta old"), nil, store.ErrDeleted)
	x3 := alice.Event(kind, base+201, "x new", []string{"d", "x"})
	save(t, s, x3)
	expect(t, "newer version accepted", query(t, s, all, nostr.Filter{Kinds: []int{kind}, Authors: []string{alice.PubKey}}), x3, y, z)

	// Bob's own deletion of his address works; alice's did not touch it.
	save(t, s, deletion(bob, base+150, []string{"a", addr(bob, kind, "x")}))
	expect(t, "bob deletes his own", query(t, s, all, nostr.Filter{Authors: []string{bob.PubKey}, Kinds: []int{kind}}))
	// An older deletion does not lower the tombstone.
	save(t, s, deletion(alice, base+50, []string{"a", addr(alice, kind, "y")}, []string{"a", addr(alice, kind, "x")}))
	expect(t, "older deletion leaves newer version", query(t, s, all, nostr.Filter{IDs: []string{y.ID}}), y)
	saveErr(t, s, alice.Event(kind, base+180, "x between", []string{"d", "x"}), nil, store.ErrDeleted)
}
