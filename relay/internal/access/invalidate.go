package access

import (
	"context"
	"log/slog"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Invalidation names the cache entries a membership change affects. It
// travels between nodes as JSON.
//
// Pubkeys lists the pubkeys whose membership in Channel changed: their
// (Channel, pubkey) membership entries and their accessible-channels entries
// are dropped. Broader forms exist for recovery: no Pubkeys drops every
// membership entry of Channel and every accessible-channels entry; no
// Channel either drops everything; Pubkeys without a Channel drops those
// pubkeys' entries in every channel.
type Invalidation struct {
	Channel string   `json:"channel,omitempty"`
	Pubkeys []string `json:"pubkeys,omitempty"`
}

// Publisher carries invalidations to other nodes (Redis; nil = single node).
type Publisher interface {
	PublishInvalidation(ctx context.Context, inv Invalidation) error
}

// SetPublisher sets (or, with nil, clears) where Applied sends
// invalidations for other nodes.
func (a *Access) SetPublisher(p Publisher) {
	if p == nil {
		a.pub.Store(nil)
		return
	}
	a.pub.Store(&publisherBox{p: p})
}

// InvalidationFor returns the invalidation a ChannelChange calls for, and
// false when it affects no cache entry.
func InvalidationFor(ch *store.ChannelChange) (Invalidation, bool) {
	if ch == nil {
		return Invalidation{}, false
	}
	var inv Invalidation
	switch {
	case ch.Create != nil:
		inv.Channel = ch.Create.ID
		inv.Pubkeys = append(inv.Pubkeys, ch.Create.Creator)
	default:
		inv.Channel = ch.Channel
	}
	if ch.AddMember != "" {
		inv.Pubkeys = append(inv.Pubkeys, ch.AddMember)
	}
	if ch.RemoveMember != "" && ch.RemoveMember != ch.AddMember {
		inv.Pubkeys = append(inv.Pubkeys, ch.RemoveMember)
	}
	if inv.Channel == "" || len(inv.Pubkeys) == 0 {
		return Invalidation{}, false
	}
	return inv, true
}

// Applied must be called after the store applied a ChannelChange
// successfully: it invalidates the affected cache entries at once on this
// node and publishes the invalidation to other nodes through the Publisher,
// if set. A failed publish is logged, not returned: the event is stored, and
// other nodes converge within the cache TTL anyway.
func (a *Access) Applied(ctx context.Context, ch *store.ChannelChange) {
	inv, ok := InvalidationFor(ch)
	if !ok {
		return
	}
	if ch.Create != nil {
		// The new channel is known now; caching it saves the store read
		// for the first messages.
		a.channels.put(ch.Create.ID, *ch.Create)
	}
	a.ApplyInvalidation(inv)
	box := a.pub.Load()
	if box == nil {
		return
	}
	if err := box.p.PublishInvalidation(ctx, inv); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "publishing cache invalidation failed",
			slog.String("channel", inv.Channel), slog.String("error", err.Error()))
	}
}

// ApplyInvalidation applies an invalidation received from another node (or
// built locally), without republishing it.
func (a *Access) ApplyInvalidation(inv Invalidation) {
	switch {
	case len(inv.Pubkeys) == 0 && inv.Channel == "":
		a.InvalidateAll()
	case len(inv.Pubkeys) == 0:
		a.members.deleteFunc(func(k memberKey) bool { return k.channel == inv.Channel })
		a.accessible.clear()
	case inv.Channel == "":
		for _, pk := range inv.Pubkeys {
			a.members.deleteFunc(func(k memberKey) bool { return k.pubkey == pk })
			a.accessible.delete(pk)
		}
	default:
		for _, pk := range inv.Pubkeys {
			a.members.delete(memberKey{channel: inv.Channel, pubkey: pk})
			a.accessible.delete(pk)
		}
	}
}

// InvalidateAll drops every membership and accessible-channels entry. A node
// calls it when it may have missed invalidations (its consumer lagged or
// its connection to the bus was lost), so that it never serves a stale
// answer longer than it takes to notice.
func (a *Access) InvalidateAll() {
	a.members.clear()
	a.accessible.clear()
}
