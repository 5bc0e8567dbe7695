package access

import (
	"context"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Refusal is a write the channel rules refuse. Its Error() is the exact
// message for the client's OK frame, prefix included.
type Refusal struct {
	// Prefix is one of PrefixInvalid, PrefixRestricted, PrefixDuplicate,
	// PrefixBlocked.
	Prefix string
	// Reason is the human-readable rest of the message.
	Reason string
}

// Machine-readable prefixes of a Refusal (NIP-01).
const (
	PrefixInvalid    = "invalid"
	PrefixRestricted = "restricted"
	PrefixDuplicate  = "duplicate"
	PrefixBlocked    = "blocked"
)

// Error returns "prefix: reason".
func (r *Refusal) Error() string { return r.Prefix + ": " + r.Reason }

func invalid(reason string) *Refusal    { return &Refusal{Prefix: PrefixInvalid, Reason: reason} }
func restricted(reason string) *Refusal { return &Refusal{Prefix: PrefixRestricted, Reason: reason} }

// Refusal reasons, exported so callers and tests can compare exactly.
const (
	ReasonTooManyH          = "events may carry at most one h tag"
	ReasonEmptyH            = "h tag must name a channel"
	ReasonHRequired         = "channel-scoped events must include an h tag"
	ReasonUnknownChannel    = "unknown channel"
	ReasonBadChannelID      = "channel id must be a lowercase UUID"
	ReasonNameRequired      = "channel name required"
	ReasonTooManyNames      = "events may carry at most one name tag"
	ReasonNameTooLong       = "channel name too long"
	ReasonTooManyVisibility = "events may carry at most one visibility tag"
	ReasonBadVisibility     = "visibility must be open or private"
	ReasonChannelExists     = "channel already exists"
	ReasonChannelPrivate    = "channel is private"
	ReasonNotMember         = "not a channel member"
	ReasonNotAdmin          = "not a channel admin"
	ReasonOnePTag           = "exactly one p tag required"
	ReasonBadPTag           = "p tag must be a 64-character lowercase hex pubkey"
	ReasonBadRole           = "role must be member or admin"
)

// lastModerationKind ends NIP-29's moderation range, which starts at 9000.
const lastModerationKind = 9020

// MaxChannelNameBytes bounds a channel's name.
const MaxChannelNameBytes = 256

// CheckWrite applies the channel rules of spec §4 to an event the
// authenticated pubkey wants to store and returns the ChannelChange the store
// must apply with it (nil if none). A refusal is a *Refusal; any other error
// is a storage failure.
//
// Rules, in order:
//   - at most one h tag, and it must have a non-empty value;
//   - kinds 9 and 9000–9022 need an h tag; other kinds without one pass;
//   - 9007 creates the channel (see checkCreate);
//   - every other h must name an existing channel;
//   - 9021 join: open channels only; already a member → stored, no change;
//   - 9022 leave: a member leaves; a non-member's leave of an open channel is
//     stored with no change, of a private channel refused as a non-member's
//     write;
//   - 9000 add / 9001 remove member, and the other NIP-29 moderation kinds
//     9002–9020: channel admins only;
//   - anything else: the channel is open, or pubkey is a member.
//
// Membership and moderation events check the store directly; ordinary writes
// use the membership cache, which Applied invalidates at once on this node.
func (a *Access) CheckWrite(ctx context.Context, pubkey string, ev *nostr.Event) (*store.ChannelChange, error) {
	switch n := ev.CountTags("h"); {
	case n > 1:
		return nil, invalid(ReasonTooManyH)
	case n == 0:
		if nostr.IsChannelKind(ev.Kind) {
			return nil, invalid(ReasonHRequired)
		}
		return nil, nil
	}
	h, _ := ev.Tag("h")
	if h == "" {
		return nil, invalid(ReasonEmptyH)
	}
	if ev.Kind == nostr.KindCreateChannel {
		return a.checkCreate(ctx, pubkey, h, ev)
	}
	if ev.Kind == nostr.KindAddMember || ev.Kind == nostr.KindRemoveMember {
		// The event's shape is checked before the channel exists, so a
		// malformed request gets the same answer wherever it is sent.
		if _, _, err := memberTarget(ev); err != nil {
			return nil, err
		}
	}
	ch, ok, err := a.channel(ctx, h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid(ReasonUnknownChannel)
	}
	switch {
	case ev.Kind == nostr.KindJoinChannel:
		return a.checkJoin(ctx, pubkey, ch)
	case ev.Kind == nostr.KindLeaveChannel:
		return a.checkLeave(ctx, pubkey, ch)
	case ev.Kind >= nostr.KindAddMember && ev.Kind <= lastModerationKind:
		return a.checkModeration(ctx, pubkey, ch, ev)
	}
	if ch.Visibility == store.Open {
		return nil, nil
	}
	r, err := a.role(ctx, ch.ID, pubkey)
	if err != nil {
		return nil, err
	}
	if r == "" {
		return nil, restricted(ReasonNotMember)
	}
	return nil, nil
}

// checkCreate validates a 9007: h is a new lowercase UUID; exactly one
// non-empty name tag of at most MaxChannelNameBytes; at most one visibility
// tag, open (the default) or private. The creator becomes admin through the
// store. The existence pre-check answers the common case; a race between two
// creators is settled by the store's ErrChannelExists.
func (a *Access) checkCreate(ctx context.Context, pubkey, id string, ev *nostr.Event) (*store.ChannelChange, error) {
	if !IsChannelID(id) {
		return nil, invalid(ReasonBadChannelID)
	}
	if ev.CountTags("name") > 1 {
		return nil, invalid(ReasonTooManyNames)
	}
	name, _ := ev.Tag("name")
	if name == "" {
		return nil, invalid(ReasonNameRequired)
	}
	if len(name) > MaxChannelNameBytes {
		return nil, invalid(ReasonNameTooLong)
	}
	vis := store.Open
	switch ev.CountTags("visibility") {
	case 0:
	case 1:
		v, _ := ev.Tag("visibility")
		switch store.Visibility(v) {
		case store.Open, store.Private:
			vis = store.Visibility(v)
		default:
			return nil, invalid(ReasonBadVisibility)
		}
	default:
		return nil, invalid(ReasonTooManyVisibility)
	}
	_, exists, err := a.channel(ctx, id)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, &Refusal{Prefix: PrefixDuplicate, Reason: ReasonChannelExists}
	}
	return &store.ChannelChange{Create: &store.Channel{
		ID:         id,
		Name:       name,
		Visibility: vis,
		Creator:    pubkey,
		CreatedAt:  ev.CreatedAt,
	}}, nil
}

func (a *Access) checkJoin(ctx context.Context, pubkey string, ch store.Channel) (*store.ChannelChange, error) {
	if ch.Visibility != store.Open {
		return nil, restricted(ReasonChannelPrivate)
	}
	r, err := a.freshRole(ctx, ch.ID, pubkey)
	if err != nil {
		return nil, err
	}
	if r != "" {
		// Already in: joining again must not demote an admin.
		return nil, nil
	}
	return &store.ChannelChange{Channel: ch.ID, AddMember: pubkey, AddRole: store.RoleMember}, nil
}

func (a *Access) checkLeave(ctx context.Context, pubkey string, ch store.Channel) (*store.ChannelChange, error) {
	r, err := a.freshRole(ctx, ch.ID, pubkey)
	if err != nil {
		return nil, err
	}
	if r == "" {
		if ch.Visibility != store.Open {
			return nil, restricted(ReasonNotMember)
		}
		return nil, nil
	}
	return &store.ChannelChange{Channel: ch.ID, RemoveMember: pubkey}, nil
}

// checkModeration handles 9000–9020 except 9007: admins only. 9000 adds
// (or changes the role of) the p-tagged pubkey, 9001 removes it; the other
// moderation kinds are stored without effect on membership.
func (a *Access) checkModeration(ctx context.Context, pubkey string, ch store.Channel, ev *nostr.Event) (*store.ChannelChange, error) {
	r, err := a.freshRole(ctx, ch.ID, pubkey)
	if err != nil {
		return nil, err
	}
	if r != store.RoleAdmin {
		return nil, restricted(ReasonNotAdmin)
	}
	if ev.Kind != nostr.KindAddMember && ev.Kind != nostr.KindRemoveMember {
		return nil, nil
	}
	target, role, err := memberTarget(ev)
	if err != nil {
		return nil, err
	}
	current, err := a.freshRole(ctx, ch.ID, target)
	if err != nil {
		return nil, err
	}
	if ev.Kind == nostr.KindRemoveMember {
		if current == "" {
			return nil, nil
		}
		return &store.ChannelChange{Channel: ch.ID, RemoveMember: target}, nil
	}
	if role == "" {
		if current != "" {
			// No role named and already a member: nothing to change, in
			// particular an admin is not demoted by omission.
			return nil, nil
		}
		role = store.RoleMember
	}
	return &store.ChannelChange{Channel: ch.ID, AddMember: target, AddRole: role}, nil
}

// memberTarget reads the target of a 9000/9001: exactly one p tag whose value
// is a lowercase hex pubkey. For 9000 the tag's third element, when present
// and non-empty, is the role: "member" or "admin". The returned role is ""
// when none was named.
func memberTarget(ev *nostr.Event) (string, store.Role, error) {
	var tag []string
	n := 0
	for _, t := range ev.Tags {
		if len(t) >= 1 && t[0] == "p" {
			tag = t
			n++
		}
	}
	if n != 1 {
		return "", "", invalid(ReasonOnePTag)
	}
	if len(tag) < 2 || !nostr.IsHex(tag[1], 64) {
		return "", "", invalid(ReasonBadPTag)
	}
	var role store.Role
	if ev.Kind == nostr.KindAddMember && len(tag) >= 3 {
		switch store.Role(tag[2]) {
		case "":
		case store.RoleMember, store.RoleAdmin:
			role = store.Role(tag[2])
		default:
			return "", "", invalid(ReasonBadRole)
		}
	}
	return tag[1], role, nil
}
