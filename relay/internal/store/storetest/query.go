package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// fixture is a small set of events covering authors, kinds, times and tags,
// including a created_at tie (a3, b3).
type fixture struct {
	a1, a2, a3, b1, b2, b3 *nostr.Event
	target                 string
}

func loadFixture(t *testing.T, s store.Store) fixture {
	t.Helper()
	target := alice.Event(1, base, "not stored").ID
	f := fixture{
		a1:     alice.Event(1, base+100, "a1", []string{"t", "go"}, []string{"e", target}),
		a2:     alice.Event(1, base+200, "a2", []string{"p", bob.PubKey}),
		a3:     alice.Event(7, base+300, "a3"),
		b1:     bob.Event(1, base+150, "b1", []string{"t", "rust"}, []string{"subject", "hello"}),
		b2:     bob.Event(7, base+250, "b2", []string{"t", "go"}, []string{"subject", "bye"}, []string{"t", "go"}),
		b3:     bob.Event(1, base+300, "b3"),
		target: target,
	}
	for _, ev := range []*nostr.Event{f.a1, f.a2, f.a3, f.b1, f.b2, f.b3} {
		save(t, s, ev)
	}
	return f
}

func testQueryShapes(t *testing.T, s store.Store) {
	f := loadFixture(t, s)
	everything := []*nostr.Event{f.a1, f.a2, f.a3, f.b1, f.b2, f.b3}

	expect(t, "no constraints", query(t, s, all, nostr.Filter{}), everything...)
	expect(t, "ids", query(t, s, all, nostr.Filter{IDs: []string{f.a1.ID, f.b2.ID}}), f.a1, f.b2)
	expect(t, "one id", query(t, s, all, nostr.Filter{IDs: []string{f.b1.ID}}), f.b1)
	expect(t, "unknown id", query(t, s, all, nostr.Filter{IDs: []string{f.target}}))
	expect(t, "authors", query(t, s, all, nostr.Filter{Authors: []string{alice.PubKey}}), f.a1, f.a2, f.a3)
	expect(t, "two authors", query(t, s, all, nostr.Filter{Authors: []string{alice.PubKey, bob.PubKey}}), everything...)
	expect(t, "kinds", query(t, s, all, nostr.Filter{Kinds: []int{7}}), f.a3, f.b2)
	expect(t, "author and kind", query(t, s, all, nostr.Filter{Authors: []string{alice.PubKey}, Kinds: []int{1}}), f.a1, f.a2)
	expect(t, "since", query(t, s, all, nostr.Filter{Since: ptr(base + 200)}), f.a2, f.b2, f.a3, f.b3)
	expect(t, "until", query(t, s, all, nostr.Filter{Until: ptr(base + 150)}), f.a1, f.b1)
	expect(t, "since and until", query(t, s, all, nostr.Filter{Since: ptr(base + 150), Until: ptr(base + 250)}), f.b1, f.a2, f.b2)
	expect(t, "limit", query(t, s, all, nostr.Filter{Limit: ptr(2)}), order(everything)[:2]...)
	expect(t, "limit 0", query(t, s, all, nostr.Filter{Limit: ptr(0)}))
	expect(t, "limit with kind", query(t, s, all, nostr.Filter{Kinds: []int{1}, Limit: ptr(1)}), f.b3)

	// Empty (non-nil) lists match nothing; no filters return nothing.
	expect(t, "empty ids", query(t, s, all, nostr.Filter{IDs: []string{}}))
	expect(t, "empty authors", query(t, s, all, nostr.Filter{Authors: []string{}}))
	expect(t, "empty kinds", query(t, s, all, nostr.Filter{Kinds: []int{}}))
	expect(t, "empty tag values", query(t, s, all, nostr.Filter{Tags: map[string][]string{"t": {}}}))
	expect(t, "no filters", query(t, s, all))

	// Ties on created_at come out in id order.
	got := query(t, s, all, nostr.Filter{Since: ptr(base + 300)})
	if len(got) != 2 || got[0].ID > got[1].ID {
		t.Fatalf("tie order: got %v", describe(got))
	}
}

func testQueryTags(t *testing.T, s store.Store) {
	f := loadFixture(t, s)
	tags := func(name string, vals ...string) nostr.Filter {
		return nostr.Filter{Tags: map[string][]string{name: vals}}
	}
	expect(t, "#t go", query(t, s, all, tags("t", "go")), f.a1, f.b2)
	expect(t, "#t go rust", query(t, s, all, tags("t", "go", "rust")), f.a1, f.b1, f.b2)
	expect(t, "#t none", query(t, s, all, tags("t", "python")))
	expect(t, "#p", query(t, s, all, tags("p", bob.PubKey)), f.a2)
	expect(t, "#e", query(t, s, all, tags("e", f.target)), f.a1)
	expect(t, "#t and kind", query(t, s, all, nostr.Filter{Kinds: []int{7}, Tags: map[string][]string{"t": {"go"}}}), f.b2)
	expect(t, "#t and #e", query(t, s, all, nostr.Filter{Tags: map[string][]string{"t": {"go"}, "e": {f.target}}}), f.a1)
	expect(t, "#t with limit", query(t, s, all, nostr.Filter{Tags: map[string][]string{"t": {"go", "rust"}}, Limit: ptr(2)}), f.b2, f.b1)
	// A tag value is matched by value, not by position in the tag list.
	expect(t, "#s none", query(t, s, all, tags("s", "hello")))

	// Multi-letter tags are matched too (checked outside SQL).
	expect(t, "#subject", query(t, s, all, tags("subject", "hello")), f.b1)
	expect(t, "#subject two", query(t, s, all, tags("subject", "hello", "bye")), f.b1, f.b2)
	expect(t, "#subject with kind", query(t, s, all, nostr.Filter{Kinds: []int{7}, Tags: map[string][]string{"subject": {"hello", "bye"}}}), f.b2)
	expect(t, "#subject limit", query(t, s, all, nostr.Filter{Tags: map[string][]string{"subject": {"hello", "bye"}}, Limit: ptr(1)}), f.b2)
	expect(t, "#subject and #t", query(t, s, all, nostr.Filter{Tags: map[string][]string{"subject": {"hello", "bye"}, "t": {"rust"}}}), f.b1)

	// Long and unusual single-letter values index and match exactly.
	long := make([]byte, 3000)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	odd := []string{string(long), "nul\x00inside", "\x01lead", "ünïcode ✓"}
	var evs []*nostr.Event
	for i, v := range odd {
		ev := carol.Event(1, base+1000+int64(i), fmt.Sprintf("odd%d", i), []string{"r", v})
		save(t, s, ev)
		evs = append(evs, ev)
	}
	for i, v := range odd {
		expect(t, fmt.Sprintf("#r odd %d", i), query(t, s, all, tags("r", v)), evs[i])
	}
	expect(t, "#r prefix of long", query(t, s, all, tags("r", string(long[:2999]))))
}

func testQueryUnion(t *testing.T, s store.Store) {
	f := loadFixture(t, s)
	// Overlapping filters: each event once.
	expect(t, "overlap", query(t, s, all,
		nostr.Filter{Authors: []string{alice.PubKey}},
		nostr.Filter{Kinds: []int{1}}),
		f.a1, f.a2, f.a3, f.b1, f.b3)
	// Each filter contributes at most its own limit.
	expect(t, "limits per filter", query(t, s, all,
		nostr.Filter{Authors: []string{alice.PubKey}, Limit: ptr(1)},
		nostr.Filter{Authors: []string{bob.PubKey}, Limit: ptr(1)}),
		f.a3, f.b3)
	expect(t, "same filter twice", query(t, s, all,
		nostr.Filter{Kinds: []int{7}}, nostr.Filter{Kinds: []int{7}}),
		f.a3, f.b2)
	expect(t, "sql and go filters", query(t, s, all,
		nostr.Filter{Tags: map[string][]string{"subject": {"hello", "bye"}}},
		nostr.Filter{Kinds: []int{7}}),
		f.a3, f.b1, f.b2)
	expect(t, "one filter empty", query(t, s, all,
		nostr.Filter{IDs: []string{}},
		nostr.Filter{IDs: []string{f.a2.ID}}),
		f.a2)
}

// testMultiLetterPaging puts a multi-letter match behind more candidates
// than one page of the store's scan holds.
func testMultiLetterPaging(t *testing.T, s store.Store) {
	old := alice.Event(1, base, "old", []string{"topic", "x"})
	save(t, s, old)
	for i := 1; i <= 620; i++ {
		save(t, s, alice.Event(1, base+int64(i), fmt.Sprintf("n%d", i)))
	}
	newer := alice.Event(1, base+700, "newer", []string{"topic", "x"})
	save(t, s, newer)
	expect(t, "#topic", query(t, s, all, nostr.Filter{Kinds: []int{1}, Tags: map[string][]string{"topic": {"x"}}}), old, newer)
	expect(t, "#topic limit 1", query(t, s, all, nostr.Filter{Tags: map[string][]string{"topic": {"x"}}, Limit: ptr(1)}), newer)
}

func testRoundTrip(t *testing.T, s store.Store) {
	ev := alice.Event(30023, base, "line\nbreak \"quoted\" \\ nul\x00 ✓",
		[]string{"d", "article"}, []string{"title", "x", "extra"}, []string{"t", "a"}, []string{"t", "a"}, []string{"empty", ""})
	save(t, s, ev)
	got := query(t, s, all, nostr.Filter{IDs: []string{ev.ID}})
	if len(got) != 1 {
		t.Fatalf("got %d events", len(got))
	}
	if !reflect.DeepEqual(got[0], ev) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got[0], ev)
	}
	if err := got[0].Check(); err != nil {
		t.Fatalf("stored event no longer verifies: %v", err)
	}
	noTags := alice.Event(1, base, "no tags")
	save(t, s, noTags)
	got = query(t, s, all, nostr.Filter{IDs: []string{noTags.ID}})
	if len(got) != 1 || got[0].Tags == nil || len(got[0].Tags) != 0 {
		t.Fatalf("event without tags: got %+v", got)
	}
}

func testCount(t *testing.T, s store.Store) {
	f := loadFixture(t, s)
	cases := []struct {
		name    string
		filters []nostr.Filter
		want    int64
	}{
		{"everything", []nostr.Filter{{}}, 6},
		{"kinds", []nostr.Filter{{Kinds: []int{1}}}, 4},
		{"limit ignored", []nostr.Filter{{Kinds: []int{1}, Limit: ptr(1)}}, 4},
		{"limit 0 ignored", []nostr.Filter{{Kinds: []int{1}, Limit: ptr(0)}}, 4},
		{"overlap counted once", []nostr.Filter{{Authors: []string{alice.PubKey}}, {Kinds: []int{1}}}, 5},
		{"same filter twice", []nostr.Filter{{Kinds: []int{7}}, {Kinds: []int{7}}}, 2},
		{"tags", []nostr.Filter{{Tags: map[string][]string{"t": {"go", "rust"}}}}, 3},
		{"tags overlap", []nostr.Filter{{Tags: map[string][]string{"t": {"go"}}}, {Kinds: []int{7}}}, 3},
		{"since until", []nostr.Filter{{Since: ptr(base + 150), Until: ptr(base + 250)}}, 3},
		{"ids", []nostr.Filter{{IDs: []string{f.a1.ID, f.a2.ID, f.target}}}, 2},
		{"empty list", []nostr.Filter{{IDs: []string{}}}, 0},
		{"no filters", nil, 0},
	}
	for _, c := range cases {
		if got := count(t, s, all, c.filters...); got != c.want {
			t.Errorf("count %s: got %d, want %d", c.name, got, c.want)
		}
	}
	_, err := s.Count(ctx(t), []nostr.Filter{{Tags: map[string][]string{"subject": {"hello"}}}}, all)
	if !errors.Is(err, store.ErrUncountable) {
		t.Errorf("count on a multi-letter tag: got %v, want ErrUncountable", err)
	}
}

// testOddTagNames: tag names that are not a single ASCII letter (a digit, a
// NUL byte) are stored, returned and matched like any multi-letter name,
// identically on every store.
func testOddTagNames(t *testing.T, s store.Store) {
	digit := alice.Event(1, base, "digit", []string{"1", "v"})
	nul := alice.Event(1, base+1, "nul", []string{"\x00", "v"})
	save(t, s, digit)
	save(t, s, nul)
	expect(t, "#1", query(t, s, all, nostr.Filter{Tags: map[string][]string{"1": {"v"}}}), digit)
	expect(t, "#\\x00", query(t, s, all, nostr.Filter{Tags: map[string][]string{"\x00": {"v"}}}), nul)
	if n := count(t, s, all, nostr.Filter{Kinds: []int{1}}); n != 2 {
		t.Fatalf("count = %d", n)
	}
}
