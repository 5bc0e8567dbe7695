package access

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Store is what access needs from storage (store.Store satisfies it).
type Store interface {
	store.Channels
	Allowlist() store.PubkeyList
	RelayMembers() store.PubkeyList
}

// Config of the policy.
type Config struct {
	// Allowlist enables the pubkey allowlist check at AUTH
	// (BUZZ_PUBKEY_ALLOWLIST).
	Allowlist bool
	// RequireRelayMembership enables the relay-membership check at AUTH
	// (BUZZ_REQUIRE_RELAY_MEMBERSHIP).
	RequireRelayMembership bool
	// CacheSize bounds each cache; 10 000 entries when 0 or less.
	CacheSize int
	// CacheTTL is how long a membership or accessible-channels answer is
	// trusted; 10 s when 0 or less. It bounds how late a membership change
	// made on another node is seen when an invalidation is lost.
	CacheTTL time.Duration
	// ChannelCacheTTL is how long a channel's metadata is kept; 5 min when
	// 0 or less. A channel's visibility never changes after creation and
	// channels are never deleted, so this only bounds memory churn.
	ChannelCacheTTL time.Duration
	// Logger receives the denials caused by storage errors; slog.Default()
	// when nil.
	Logger *slog.Logger
}

// Defaults of Config (spec §4).
const (
	DefaultCacheSize       = 10_000
	DefaultCacheTTL        = 10 * time.Second
	DefaultChannelCacheTTL = 5 * time.Minute
)

// Observer receives cache hit/miss counts. A nil Observer is allowed.
type Observer interface {
	MembershipCache(hit bool)
	AccessibleChannelsCache(hit bool)
}

// memberKey names one membership cache entry.
type memberKey struct{ channel, pubkey string }

// Access is the relay's access policy with its caches. It is safe for
// concurrent use.
type Access struct {
	st  Store
	cfg Config
	obs Observer
	log *slog.Logger

	// members maps (channel, pubkey) to the pubkey's role, "" meaning not a
	// member (negative answers are cached too).
	members *cache[memberKey, store.Role]
	// accessible maps a pubkey to the private channels it belongs to.
	accessible *cache[string, []string]
	// channels holds channel metadata; only channels that exist are cached,
	// so a channel created on another node is usable at once.
	channels *cache[string, store.Channel]

	pub atomic.Pointer[publisherBox]
}

type publisherBox struct{ p Publisher }

// New returns the access policy over st.
func New(st Store, cfg Config, obs Observer) *Access {
	return newWithClock(st, cfg, obs, time.Now)
}

// newWithClock is New with the caches' clock injected, for tests.
func newWithClock(st Store, cfg Config, obs Observer, now func() time.Time) *Access {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.ChannelCacheTTL <= 0 {
		cfg.ChannelCacheTTL = DefaultChannelCacheTTL
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Access{
		st:         st,
		cfg:        cfg,
		obs:        obs,
		log:        lg,
		members:    newCache[memberKey, store.Role](cfg.CacheSize, cfg.CacheTTL, now, hashMemberKey),
		accessible: newCache[string, []string](cfg.CacheSize, cfg.CacheTTL, now, maphash.String),
		channels:   newCache[string, store.Channel](cfg.CacheSize, cfg.ChannelCacheTTL, now, maphash.String),
	}
}

func hashMemberKey(seed maphash.Seed, k memberKey) uint64 {
	// Two string hashes mixed; cheaper than feeding a maphash.Hash.
	return maphash.String(seed, k.channel)*0x9e3779b97f4a7c15 ^ maphash.String(seed, k.pubkey)
}

// AuthDecision is the result of the post-signature auth checks.
type AuthDecision int

// Auth decisions, in the order the checks run.
const (
	AuthOK AuthDecision = iota
	AuthDeniedAllowlist
	AuthDeniedNotRelayMember
)

// String returns the decision as the reason label of
// buzz_auth_failures_total ("ok" for AuthOK).
func (d AuthDecision) String() string {
	switch d {
	case AuthOK:
		return "ok"
	case AuthDeniedAllowlist:
		return "allowlist_denied"
	case AuthDeniedNotRelayMember:
		return "not_relay_member"
	}
	return fmt.Sprintf("AuthDecision(%d)", int(d))
}

// Authorize runs, in order, the allowlist check (when enabled) then the
// relay-membership check (when enabled). These are read from the store on
// every call, not cached: AUTH happens once per connection, and an operator
// who removes a key expects the next connection to be refused.
//
// On a storage error the decision returned is the denial of the check that
// failed, so a caller that looked only at the decision would still deny.
func (a *Access) Authorize(ctx context.Context, pubkey string) (AuthDecision, error) {
	if a.cfg.Allowlist {
		ok, err := a.st.Allowlist().Contains(ctx, pubkey)
		if err != nil {
			return AuthDeniedAllowlist, fmt.Errorf("allowlist lookup: %w", err)
		}
		if !ok {
			return AuthDeniedAllowlist, nil
		}
	}
	if a.cfg.RequireRelayMembership {
		ok, err := a.st.RelayMembers().Contains(ctx, pubkey)
		if err != nil {
			return AuthDeniedNotRelayMember, fmt.Errorf("relay member lookup: %w", err)
		}
		if !ok {
			return AuthDeniedNotRelayMember, nil
		}
	}
	return AuthOK, nil
}

func (a *Access) observeMembership(hit bool) {
	if a.obs != nil {
		a.obs.MembershipCache(hit)
	}
}

func (a *Access) observeAccessible(hit bool) {
	if a.obs != nil {
		a.obs.AccessibleChannelsCache(hit)
	}
}
