// Package access decides who may authenticate, read and write: the allowlist
// and relay-membership checks after NIP-42 AUTH, the channel rules of spec §4
// for writes, read access for queries and live fan-out, and the in-process
// caches of channel membership with their invalidation across nodes.
//
// The package never talks to clients: it returns decisions, and refusals
// whose text the caller sends as is.
//
// # Decisions where the spec is silent
//
// Channel ids are canonical UUIDs in lowercase (8-4-4-4-12 hex). They are
// required lowercase, not normalised: the id is inside a signed tag and #h
// filters compare it byte for byte, so each channel has one spelling. An h
// value that is not such a UUID is an unknown channel without a store read.
//
// An event carries at most one h tag, and that tag must have a non-empty
// value. Every h must name an existing channel, whatever the kind, except in
// the 9007 that creates it.
//
// 9007 needs exactly one non-empty name tag of at most MaxChannelNameBytes
// bytes and at most one visibility tag, "open" (the default) or "private",
// exactly so spelled. The creator (the authenticated pubkey) becomes admin.
// An id in use is refused "duplicate: channel already exists" before the
// store is asked; two creators racing are settled by the store's
// ErrChannelExists.
//
// 9021 (join) of an open channel adds the pubkey as member; when it is a
// member already the event is stored and nothing changes (a join must not
// demote an admin). 9021 of a private channel is refused.
//
// 9022 (leave) removes a member. A non-member's leave of an open channel is
// stored without effect; of a private channel it is a non-member writing
// there and refused as such.
//
// 9000 and 9001 name their target in exactly one p tag holding a lowercase
// hex pubkey; the event's shape is checked before the channel and the
// sender's role. The p tag's third element, on 9000, is the role: "admin" or
// "member"; absent or empty means member for a newcomer and no change for
// someone already in (so an admin is never demoted by omission). Naming a
// role changes it, which is how admins promote and demote. Removing a
// non-member is stored without effect. The other NIP-29 moderation kinds,
// 9002–9006 and 9008–9020, are admin-only and have no effect on membership.
// Nothing stops the last admin from leaving or being removed.
//
// Channel rules apply to the authenticated pubkey, which differs from the
// event's only for gift wraps (kind 1059).
//
// # Caches
//
// Three bounded TTL+LRU caches: membership (channel, pubkey) → role, with
// negative answers cached; accessible channels pubkey → the private channels
// it belongs to; and channel metadata, positive answers only (so a channel
// created on another node is usable at once) with a longer TTL, since a
// channel's visibility never changes.
//
// Reads (CanRead, Scope) and ordinary writes go through the caches.
// Membership and moderation events (9000–9022) read the store directly:
// they are rare, and the authority to change a channel must not rest on an
// answer another node may already have overturned. Authorize reads the store
// every time: AUTH happens once per connection.
//
// After the store applies a ChannelChange, Applied drops the affected
// entries on this node at once and publishes an Invalidation to the other
// nodes; they drop the same entries on receipt, and within the TTL at the
// latest if the message is lost. A load from the store that overlaps an
// invalidation does not put its answer back into the cache, so a removal is
// final on this node the moment Applied returns.
//
// Storage errors deny: CanRead answers false (and logs), Scope and
// CheckWrite return the error, and Authorize returns the error with a
// denial.
package access
