// Package store defines what the relay needs from persistent storage: events
// with NIP-01/NIP-09 kind semantics, channels and their members, the pubkey
// allowlist, relay members and the audit chain. The implementations live in
// store/postgres and store/sqlite; storetest holds the contract suite that
// both must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Errors the relay reacts to. Implementations wrap driver errors with %w
// around these where one applies, and never leak driver text to clients.
var (
	// ErrDuplicate: an event with this id is already stored.
	ErrDuplicate = errors.New("event already stored")
	// ErrSuperseded: a replaceable or addressable event is older than (or
	// ties and loses against) the stored version.
	ErrSuperseded = errors.New("a newer version is already stored")
	// ErrDeleted: the event was deleted by its author (NIP-09) and may not
	// come back.
	ErrDeleted = errors.New("event was deleted")
	// ErrChannelExists: a 9007 named a channel id already in use.
	ErrChannelExists = errors.New("channel already exists")
	// ErrNotFound: the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUncountable: Count was given a filter with a tag constraint that
	// is not single-letter, which the store cannot count directly; the
	// caller falls back to scanning candidates (spec §8).
	ErrUncountable = errors.New("filter cannot be counted by the store")
)

// Visibility of a channel.
type Visibility string

// Channel visibilities (spec §4).
const (
	Open    Visibility = "open"
	Private Visibility = "private"
)

// Channel is a NIP-29 style group identified by the UUID in its h tag.
type Channel struct {
	ID         string
	Name       string
	Visibility Visibility
	Creator    string
	CreatedAt  int64
}

// Role of a channel member.
type Role string

// Member roles.
const (
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
)

// ChannelChange is the side effect an event has on channels, applied in the
// same transaction that stores the event so the two never disagree. The
// relay's access package decides it; the store only carries it out.
type ChannelChange struct {
	// Create, when set, creates the channel and makes Creator its admin.
	Create *Channel
	// AddMember / RemoveMember name the pubkey whose membership changes in
	// Channel.
	Channel      string
	AddMember    string
	AddRole      Role
	RemoveMember string
}

// Scope limits what a read may return. Events outside a channel are always
// readable; events in an open channel are readable; events in a private
// channel are readable only when the channel is in Channels.
type Scope struct {
	// Unrestricted is for the relay's own use (tests, tooling); client
	// reads never set it.
	Unrestricted bool
	// Channels is the set of private channel ids the reader is a member of.
	Channels []string
}

// Events stores and queries Nostr events.
type Events interface {
	// Save stores ev with NIP-01 kind semantics (replaceable, addressable),
	// NIP-09 deletion for kind 5, and applies change in the same
	// transaction. It returns ErrDuplicate, ErrSuperseded, ErrDeleted,
	// ErrChannelExists or ErrNotFound (unknown channel) as they apply.
	// Ephemeral kinds must not be passed here.
	Save(ctx context.Context, ev *nostr.Event, change *ChannelChange) error
	// Query returns the events that match any filter and the scope, newest
	// first (created_at desc, id asc), each at most once. A filter's Limit
	// (already clamped by the caller) bounds what that filter contributes.
	Query(ctx context.Context, filters []nostr.Filter, scope Scope) ([]*nostr.Event, error)
	// Count returns how many distinct events match any filter within the
	// scope, ignoring limits. Filters whose tag constraints are not all
	// single-letter are the caller's business (see CountLimit).
	Count(ctx context.Context, filters []nostr.Filter, scope Scope) (int64, error)
}

// Channels stores channels and memberships.
type Channels interface {
	// Channel returns the channel or ErrNotFound.
	Channel(ctx context.Context, id string) (Channel, error)
	// Membership returns the pubkey's role in the channel, or ErrNotFound.
	Membership(ctx context.Context, channel, pubkey string) (Role, error)
	// MemberChannels returns the ids of every channel the pubkey belongs to.
	MemberChannels(ctx context.Context, pubkey string) ([]string, error)
	// Members lists a channel's members with their roles.
	Members(ctx context.Context, channel string) (map[string]Role, error)
}

// PubkeyList is a set of pubkeys: the allowlist or the relay members.
type PubkeyList interface {
	Add(ctx context.Context, pubkey string) error
	Remove(ctx context.Context, pubkey string) error
	Contains(ctx context.Context, pubkey string) (bool, error)
	List(ctx context.Context) ([]string, error)
}

// AuditEntry is one record of the audit chain.
type AuditEntry struct {
	Seq      int64
	Time     time.Time
	Actor    string
	Action   string
	EventID  string
	Kind     int
	Channel  string
	Detail   string
	PrevHash []byte
	Hash     []byte
}

// Audit appends to and reads the hash-chained audit log.
type Audit interface {
	// AppendAudit appends entries in order, computing each entry's PrevHash
	// and Hash with link under the database's own serialisation so that
	// several processes extend one chain. It fills Seq, Time, PrevHash and
	// Hash into the caller's slice. Pass fresh entries with Seq 0. To retry
	// after an error, pass the same slice again: an entry arriving with Seq
	// != 0 and Hash set is a retry of an earlier attempt, and if the row at
	// that Seq holds that Hash the earlier attempt committed (its
	// acknowledgement was lost), so AppendAudit returns nil without
	// inserting anything; otherwise it links and inserts the entries afresh.
	AppendAudit(ctx context.Context, entries []AuditEntry, link func(prev []byte, e *AuditEntry) []byte) error
	// AuditEntries calls fn for every entry in sequence order.
	AuditEntries(ctx context.Context, fn func(AuditEntry) error) error
}

// PoolStats describes the connection pool for the pool gauges.
type PoolStats struct {
	Size, Idle, Max int64
}

// Store is everything the relay needs from its database.
type Store interface {
	Events
	Channels
	Allowlist() PubkeyList
	RelayMembers() PubkeyList
	Audit
	// PoolStats samples the connection pool.
	PoolStats() PoolStats
	// Close releases the store's connections.
	Close() error
}

// CountLimit is the most candidates a fallback COUNT may scan (spec §8).
const CountLimit = 5000
