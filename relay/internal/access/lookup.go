package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// channel returns the channel named id and whether it exists. Channels that
// exist are cached (their visibility never changes); absence is not, so a
// channel just created on another node is found at once. An id that is not a
// canonical lowercase UUID cannot name a channel and costs no store read.
func (a *Access) channel(ctx context.Context, id string) (store.Channel, bool, error) {
	if !IsChannelID(id) {
		return store.Channel{}, false, nil
	}
	if ch, ok := a.channels.get(id); ok {
		return ch, true, nil
	}
	ch, err := a.st.Channel(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Channel{}, false, nil
	}
	if err != nil {
		return store.Channel{}, false, fmt.Errorf("channel %s: %w", id, err)
	}
	a.channels.put(id, ch)
	return ch, true, nil
}

// role returns pubkey's role in channel through the membership cache, ""
// when it is not a member. Negative answers are cached too; Applied and
// ApplyInvalidation drop them when membership changes.
func (a *Access) role(ctx context.Context, channel, pubkey string) (store.Role, error) {
	k := memberKey{channel: channel, pubkey: pubkey}
	if r, ok := a.members.get(k); ok {
		a.observeMembership(true)
		return r, nil
	}
	a.observeMembership(false)
	return a.freshRole(ctx, channel, pubkey)
}

// freshRole reads pubkey's role in channel from the store, bypassing the
// cache. Membership and moderation events use it: they are rare, and the
// authority to change a channel must not rest on an answer another node may
// already have overturned. The answer refreshes the cache on the way.
func (a *Access) freshRole(ctx context.Context, channel, pubkey string) (store.Role, error) {
	k := memberKey{channel: channel, pubkey: pubkey}
	gen := a.members.generation(k)
	r, err := a.loadRole(ctx, channel, pubkey)
	if err != nil {
		return "", err
	}
	a.members.putIfGen(k, r, gen)
	return r, nil
}

func (a *Access) loadRole(ctx context.Context, channel, pubkey string) (store.Role, error) {
	r, err := a.st.Membership(ctx, channel, pubkey)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("membership in %s: %w", channel, err)
	}
	return r, nil
}

// IsChannelID reports whether s is a channel id: a canonical UUID
// (8-4-4-4-12 hex digits) in lowercase. Lowercase is required, not
// normalised, because the id travels in a signed h tag and #h filters match
// it byte for byte, so a channel must have exactly one spelling.
func IsChannelID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
