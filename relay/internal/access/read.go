package access

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Scope returns the read scope for pubkey: the private channels it belongs
// to, through the accessible-channels cache. Open channels are left out:
// they are readable by everyone, and a short list keeps the store's query
// small. The returned slice is the caller's own.
func (a *Access) Scope(ctx context.Context, pubkey string) (store.Scope, error) {
	if ids, ok := a.accessible.get(pubkey); ok {
		a.observeAccessible(true)
		return store.Scope{Channels: slices.Clone(ids)}, nil
	}
	a.observeAccessible(false)
	gen := a.accessible.generation(pubkey)
	all, err := a.st.MemberChannels(ctx, pubkey)
	if err != nil {
		return store.Scope{}, fmt.Errorf("member channels: %w", err)
	}
	ids := make([]string, 0, len(all))
	for _, id := range all {
		ch, ok, err := a.channel(ctx, id)
		if err != nil {
			return store.Scope{}, err
		}
		if ok && ch.Visibility != store.Open {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	a.accessible.putIfGen(pubkey, ids, gen)
	return store.Scope{Channels: slices.Clone(ids)}, nil
}

// CanRead reports whether pubkey may read ev (it implements the fan-out's
// read check). Events without an h tag are readable by every authenticated
// pubkey; an event in an open channel too; an event in a private channel only
// by the channel's members, through the membership cache. An event naming a
// channel that does not exist, or more than one channel of which one is not
// readable, is not readable. A storage error denies, and is logged: a
// private event must never leak because the database hiccupped.
func (a *Access) CanRead(ctx context.Context, pubkey string, ev *nostr.Event) bool {
	for _, t := range ev.Tags {
		if len(t) < 2 || t[0] != "h" {
			continue
		}
		ok, err := a.canReadChannel(ctx, pubkey, t[1])
		if err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "read check failed, denying",
				slog.String("pubkey", pubkey), slog.String("event", ev.ID),
				slog.String("channel", t[1]), slog.String("error", err.Error()))
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

func (a *Access) canReadChannel(ctx context.Context, pubkey, id string) (bool, error) {
	ch, ok, err := a.channel(ctx, id)
	if err != nil || !ok {
		return false, err
	}
	if ch.Visibility == store.Open {
		return true, nil
	}
	r, err := a.role(ctx, id, pubkey)
	if err != nil {
		return false, err
	}
	return r != "", nil
}
