package nostr

import (
	"slices"
)

// Filter is a NIP-01 subscription filter. Nil slices mean "no constraint";
// a non-nil empty slice matches nothing.
type Filter struct {
	IDs     []string
	Authors []string
	Kinds   []int
	// Tags maps a tag name (without '#') to the accepted values.
	Tags  map[string][]string
	Since *int64
	Until *int64
	// Limit is the client's limit; nil when absent. The relay clamps it.
	Limit *int
}

// Matches reports whether e satisfies every constraint of f (limit aside).
func (f *Filter) Matches(e *Event) bool {
	if f.IDs != nil && !slices.Contains(f.IDs, e.ID) {
		return false
	}
	if f.Authors != nil && !slices.Contains(f.Authors, e.PubKey) {
		return false
	}
	if f.Kinds != nil && !slices.Contains(f.Kinds, e.Kind) {
		return false
	}
	if f.Since != nil && e.CreatedAt < *f.Since {
		return false
	}
	if f.Until != nil && e.CreatedAt > *f.Until {
		return false
	}
	for name, values := range f.Tags {
		if !hasTagValue(e, name, values) {
			return false
		}
	}
	return true
}

func hasTagValue(e *Event, name string, values []string) bool {
	for _, t := range e.Tags {
		if len(t) >= 2 && t[0] == name && slices.Contains(values, t[1]) {
			return true
		}
	}
	return false
}

// MatchesAny reports whether e satisfies at least one filter.
func MatchesAny(filters []Filter, e *Event) bool {
	for i := range filters {
		if filters[i].Matches(e) {
			return true
		}
	}
	return false
}

// SingleLetterTags reports whether every tag constraint is on an indexed
// tag name (see IsIndexedTagName), the ones a store can answer directly.
func (f *Filter) SingleLetterTags() bool {
	for name := range f.Tags {
		if !IsIndexedTagName(name) {
			return false
		}
	}
	return true
}

// IsIndexedTagName reports whether tags with this name are indexed: a single
// ASCII letter, as NIP-01 describes. Other names (longer ones, digits,
// control characters) are matched in memory.
func IsIndexedTagName(name string) bool {
	if len(name) != 1 {
		return false
	}
	c := name[0]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
