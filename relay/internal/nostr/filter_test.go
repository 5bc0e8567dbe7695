package nostr

import (
	"testing"
)

func TestFilterMatches(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	ev := &Event{
		ID: hexID, PubKey: hexPK, CreatedAt: 1000, Kind: 9,
		Tags: [][]string{{"h", "chan-1"}, {"e", "x", "relay"}, {"p"}, {"t", ""}, {"emoji", "smile"}},
	}
	cases := []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty filter matches all", Filter{}, true},
		{"id match", Filter{IDs: []string{"other", hexID}}, true},
		{"id miss", Filter{IDs: []string{"other"}}, false},
		{"nil ids no constraint", Filter{IDs: nil}, true},
		{"empty ids match nothing", Filter{IDs: []string{}}, false},
		{"author match", Filter{Authors: []string{hexPK}}, true},
		{"author miss", Filter{Authors: []string{hexID}}, false},
		{"empty authors match nothing", Filter{Authors: []string{}}, false},
		{"kind match", Filter{Kinds: []int{1, 9}}, true},
		{"kind miss", Filter{Kinds: []int{1}}, false},
		{"empty kinds match nothing", Filter{Kinds: []int{}}, false},
		{"since equal is inclusive", Filter{Since: i64(1000)}, true},
		{"since one later", Filter{Since: i64(1001)}, false},
		{"since earlier", Filter{Since: i64(0)}, true},
		{"until equal is inclusive", Filter{Until: i64(1000)}, true},
		{"until one earlier", Filter{Until: i64(999)}, false},
		{"since equals until equals created_at", Filter{Since: i64(1000), Until: i64(1000)}, true},
		{"since after until", Filter{Since: i64(1001), Until: i64(999)}, false},
		{"tag h match", Filter{Tags: map[string][]string{"h": {"chan-1"}}}, true},
		{"tag h miss", Filter{Tags: map[string][]string{"h": {"chan-2"}}}, false},
		{"tag one of several values", Filter{Tags: map[string][]string{"h": {"chan-2", "chan-1"}}}, true},
		{"tag value is second element only", Filter{Tags: map[string][]string{"e": {"relay"}}}, false},
		{"tag e first value", Filter{Tags: map[string][]string{"e": {"x"}}}, true},
		{"tag without value never matches", Filter{Tags: map[string][]string{"p": {""}}}, false},
		{"tag with empty value matches empty", Filter{Tags: map[string][]string{"t": {""}}}, true},
		{"absent tag", Filter{Tags: map[string][]string{"d": {"x"}}}, false},
		{"empty tag values match nothing", Filter{Tags: map[string][]string{"h": {}}}, false},
		{"nil tag values match nothing", Filter{Tags: map[string][]string{"h": nil}}, false},
		{"empty tags map no constraint", Filter{Tags: map[string][]string{}}, true},
		{"multi-letter tag", Filter{Tags: map[string][]string{"emoji": {"smile"}}}, true},
		{"tag name case-sensitive", Filter{Tags: map[string][]string{"H": {"chan-1"}}}, false},
		{"all tags must match", Filter{Tags: map[string][]string{"h": {"chan-1"}, "e": {"y"}}}, false},
		{"all tags match", Filter{Tags: map[string][]string{"h": {"chan-1"}, "e": {"x"}}}, true},
		{"everything", Filter{IDs: []string{hexID}, Authors: []string{hexPK}, Kinds: []int{9}, Since: i64(1000), Until: i64(1000), Tags: map[string][]string{"h": {"chan-1"}}}, true},
		{"everything but kind", Filter{IDs: []string{hexID}, Authors: []string{hexPK}, Kinds: []int{10}, Since: i64(1000), Until: i64(1000), Tags: map[string][]string{"h": {"chan-1"}}}, false},
		{"limit is ignored", Filter{Limit: new(int)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.f.Matches(ev); got != c.want {
				t.Fatalf("Matches = %v, want %v", got, c.want)
			}
			if got := MatchesAny([]Filter{{IDs: []string{}}, c.f}, ev); got != c.want {
				t.Fatalf("MatchesAny with a never-matching first filter = %v, want %v", got, c.want)
			}
		})
	}
	if MatchesAny(nil, ev) {
		t.Error("MatchesAny(nil) matched")
	}
	noTags := &Event{ID: hexID, PubKey: hexPK, CreatedAt: 1, Kind: 1}
	if (&Filter{Tags: map[string][]string{"h": {"chan-1"}}}).Matches(noTags) {
		t.Error("tag filter matched an event without tags")
	}
}
