// Package storetest is the contract suite every store.Store implementation
// passes: the query shapes, NIP-01/NIP-09 kind rules, channels and scope,
// pubkey lists and the audit chain. Implementations call Run from their own
// tests with a constructor that returns a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Run runs the whole suite. open must return a new empty store for each
// call and arrange for its cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"QueryShapes", testQueryShapes},
		{"QueryTags", testQueryTags},
		{"QueryUnion", testQueryUnion},
		{"QueryMultiLetterTagScansPages", testMultiLetterPaging},
		{"QueryOddTagNames", testOddTagNames},
		{"RoundTrip", testRoundTrip},
		{"Count", testCount},
		{"Duplicate", testDuplicate},
		{"Replaceable", testReplaceable},
		{"ReplaceableTies", testReplaceableTies},
		{"Addressable", testAddressable},
		{"DeletionByID", testDeletionByID},
		{"DeletionByAddress", testDeletionByAddress},
		{"Channels", testChannels},
		{"ChannelChangeAtomic", testChannelChangeAtomic},
		{"Scope", testScope},
		{"PubkeyLists", testPubkeyLists},
		{"Audit", testAudit},
		{"ConcurrentReplaceable", testConcurrentReplaceable},
		{"ConcurrentChannelCreate", testConcurrentChannelCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// base is an arbitrary fixed time; the store does not judge timestamps.
const base int64 = 1_700_000_000

var (
	alice = NewSigner("alice")
	bob   = NewSigner("bob")
	carol = NewSigner("carol")
)

func ctx(t *testing.T) context.Context { return t.Context() }

func save(t *testing.T, s store.Store, ev *nostr.Event) {
	t.Helper()
	saveChange(t, s, ev, nil)
}

func saveChange(t *testing.T, s store.Store, ev *nostr.Event, change *store.ChannelChange) {
	t.Helper()
	if err := s.Save(ctx(t), ev, change); err != nil {
		t.Fatalf("save kind %d at %d: %v", ev.Kind, ev.CreatedAt, err)
	}
}

// saveErr asserts that Save fails with want (errors.Is).
func saveErr(t *testing.T, s store.Store, ev *nostr.Event, change *store.ChannelChange, want error) {
	t.Helper()
	err := s.Save(ctx(t), ev, change)
	if !errors.Is(err, want) {
		t.Fatalf("save kind %d at %d: got error %v, want %v", ev.Kind, ev.CreatedAt, err, want)
	}
}

func query(t *testing.T, s store.Store, scope store.Scope, filters ...nostr.Filter) []*nostr.Event {
	t.Helper()
	evs, err := s.Query(ctx(t), filters, scope)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return evs
}

func count(t *testing.T, s store.Store, scope store.Scope, filters ...nostr.Filter) int64 {
	t.Helper()
	n, err := s.Count(ctx(t), filters, scope)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

var all = store.Scope{Unrestricted: true}

// order sorts events into the contract's result order.
func order(evs []*nostr.Event) []*nostr.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b *nostr.Event) int {
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt > b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// expect asserts that got holds exactly want, in result order.
func expect(t *testing.T, what string, got []*nostr.Event, want ...*nostr.Event) {
	t.Helper()
	want = order(want)
	g := describe(got)
	w := describe(want)
	if !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %v\n want %v", what, g, w)
	}
}

func describe(evs []*nostr.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID[:8] + "/" + e.Content
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// lowHigh returns the two events ordered by id.
func lowHigh(a, b *nostr.Event) (lo, hi *nostr.Event) {
	if a.ID < b.ID {
		return a, b
	}
	return b, a
}
