package fanout

import (
	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// anyKind is the kind wildcard in a bucket key.
const anyKind = -1

// maxKeysPerFilter bounds how many buckets one filter is indexed under, so a
// filter naming thousands of channels and kinds cannot blow the index up.
// Past it the filter goes into a coarser wildcard bucket; lookups always
// visit wildcard buckets, so matching stays exact and only less selective.
const maxKeysPerFilter = 64

// bucketKey names one index bucket: a channel (or any channel) and a kind
// (or anyKind). anyChannel is separate from channel so that the channel ""
// (an #h filter naming the empty string) is not confused with the wildcard.
type bucketKey struct {
	channel    string
	anyChannel bool
	kind       int
}

// satisfiable reports whether f can match any event at all: NIP-01 filters
// with a non-nil empty list (or since > until) match nothing, so they need
// no index entry and express no interest in any channel.
func satisfiable(f *nostr.Filter) bool {
	if (f.IDs != nil && len(f.IDs) == 0) ||
		(f.Authors != nil && len(f.Authors) == 0) ||
		(f.Kinds != nil && len(f.Kinds) == 0) {
		return false
	}
	for _, vals := range f.Tags {
		if len(vals) == 0 {
			return false
		}
	}
	return f.Since == nil || f.Until == nil || *f.Since <= *f.Until
}

// subscriptionKeys returns the distinct buckets a subscription with these
// filters belongs to.
func subscriptionKeys(filters []nostr.Filter) []bucketKey {
	var keys []bucketKey
	seen := make(map[bucketKey]struct{})
	for i := range filters {
		f := &filters[i]
		if !satisfiable(f) {
			continue
		}
		for _, k := range filterKeys(f) {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// filterKeys returns the buckets of one satisfiable filter: every (channel,
// kind) pair it names, with a wildcard for an absent constraint, coarsened
// when there would be more than maxKeysPerFilter of them.
func filterKeys(f *nostr.Filter) []bucketKey {
	hs, hasH := f.Tags["h"]
	channels := distinct(hs)
	kinds := distinct(f.Kinds)
	hasKinds := f.Kinds != nil

	nc, nk := 1, 1
	if hasH {
		nc = len(channels)
	}
	if hasKinds {
		nk = len(kinds)
	}

	var keys []bucketKey
	switch {
	case nc*nk <= maxKeysPerFilter:
		for ci := range nc {
			ch := bucketKey{anyChannel: true}
			if hasH {
				ch = bucketKey{channel: channels[ci]}
			}
			for ki := range nk {
				k := ch
				k.kind = anyKind
				if hasKinds {
					k.kind = kinds[ki]
				}
				keys = append(keys, k)
			}
		}
	case hasH && nc <= maxKeysPerFilter:
		for _, c := range channels {
			keys = append(keys, bucketKey{channel: c, kind: anyKind})
		}
	case hasKinds && nk <= maxKeysPerFilter:
		for _, k := range kinds {
			keys = append(keys, bucketKey{anyChannel: true, kind: k})
		}
	default:
		keys = append(keys, bucketKey{anyChannel: true, kind: anyKind})
	}
	return keys
}

// subscriptionInterest returns the channels a subscription needs events
// from, "" standing for "every channel and none" (a filter without #h).
// The empty channel id in an #h filter is left out: no channel has it.
func subscriptionInterest(filters []nostr.Filter) []string {
	var out []string
	seen := make(map[string]struct{})
	add := func(c string) {
		if _, dup := seen[c]; !dup {
			seen[c] = struct{}{}
			out = append(out, c)
		}
	}
	for i := range filters {
		f := &filters[i]
		if !satisfiable(f) {
			continue
		}
		hs, hasH := f.Tags["h"]
		if !hasH {
			add("")
			continue
		}
		// Only values that can name a channel count as interest: no event
		// with any other h value is ever accepted, and each interest may
		// become a Redis topic subscription.
		for _, c := range hs {
			if access.IsChannelID(c) {
				add(c)
			}
		}
	}
	return out
}

// distinct returns vals without repeats, keeping the first occurrence.
func distinct[T comparable](vals []T) []T {
	if len(vals) < 2 {
		return vals
	}
	out := make([]T, 0, len(vals))
	seen := make(map[T]struct{}, len(vals))
	for _, v := range vals {
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}
