// Package records reads channels and memberships and keeps the pubkey
// lists (allowlist, relay members) for the SQL stores. These statements
// are plain SQL both engines accept; only running them (the driver) and
// the placeholder spelling differ, so each store supplies a DB and this
// package writes the SQL once.
package records

import (
	"context"
	"fmt"
	"strings"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Row is one result row; pgx.Row and *sql.Row both fit. Row and Rows are
// aliases of interface literals, so one driver adapter can satisfy both
// this DB and eventquery.DB.
type Row = interface {
	Scan(dest ...any) error
}

// Rows is a result cursor; pgx.Rows and *sql.Rows both fit.
type Rows = interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// DB runs statements on a store's connections.
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// Query runs sql; the caller calls done once it is finished with rows.
	Query(ctx context.Context, sql string, args ...any) (rows Rows, done func(), err error)
	Exec(ctx context.Context, sql string, args ...any) error
	// NoRows reports the driver's "no rows" error from QueryRow's Scan.
	NoRows(err error) bool
}

// Records runs the channel and pubkey-list statements on one DB.
type Records struct {
	db DB
	// numbered: the engine spells placeholders $n; otherwise ?n.
	numbered      bool
	allow, member *PubkeyList
}

// New returns Records on db. The statements are written with $n
// placeholders; unless numbered they are sent as ?n, which SQLite reads as
// the same positional arguments.
func New(db DB, numbered bool) *Records {
	r := &Records{db: db, numbered: numbered}
	r.allow = &PubkeyList{r: r, table: "allowlist"}
	r.member = &PubkeyList{r: r, table: "relay_members"}
	return r
}

func (r *Records) sql(q string) string {
	if r.numbered {
		return q
	}
	return strings.ReplaceAll(q, "$", "?")
}

// Channel returns the channel or store.ErrNotFound.
func (r *Records) Channel(ctx context.Context, id string) (store.Channel, error) {
	var c store.Channel
	var vis string
	err := r.db.QueryRow(ctx, r.sql(`SELECT id, name, visibility, creator, created_at FROM channels WHERE id = $1`),
		id).Scan(&c.ID, &c.Name, &vis, &c.Creator, &c.CreatedAt)
	if r.db.NoRows(err) {
		return store.Channel{}, fmt.Errorf("store: channel %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Channel{}, fmt.Errorf("store: channel: %w", err)
	}
	c.Visibility = store.Visibility(vis)
	return c, nil
}

// Membership returns the pubkey's role in the channel or store.ErrNotFound.
func (r *Records) Membership(ctx context.Context, channel, pubkey string) (store.Role, error) {
	var role string
	err := r.db.QueryRow(ctx, r.sql(`SELECT role FROM channel_members WHERE channel_id = $1 AND pubkey = $2`),
		channel, pubkey).Scan(&role)
	if r.db.NoRows(err) {
		return "", fmt.Errorf("store: membership: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: membership: %w", err)
	}
	return store.Role(role), nil
}

// MemberChannels returns the ids of the channels pubkey belongs to, sorted.
func (r *Records) MemberChannels(ctx context.Context, pubkey string) ([]string, error) {
	ids, err := r.column(ctx, `SELECT channel_id FROM channel_members WHERE pubkey = $1 ORDER BY channel_id`, pubkey)
	if err != nil {
		return nil, fmt.Errorf("store: member channels: %w", err)
	}
	return ids, nil
}

// Members lists a channel's members and their roles.
func (r *Records) Members(ctx context.Context, channel string) (map[string]store.Role, error) {
	rows, done, err := r.db.Query(ctx, r.sql(`SELECT pubkey, role FROM channel_members WHERE channel_id = $1`), channel)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	defer done()
	out := map[string]store.Role{}
	for rows.Next() {
		var pk, role string
		if err := rows.Scan(&pk, &role); err != nil {
			return nil, fmt.Errorf("store: members: %w", err)
		}
		out[pk] = store.Role(role)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	return out, nil
}

// column runs a one-column text query.
func (r *Records) column(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, done, err := r.db.Query(ctx, r.sql(q), args...)
	if err != nil {
		return nil, err
	}
	defer done()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PubkeyList is a store.PubkeyList kept in one table (a constant, never
// user input).
type PubkeyList struct {
	r     *Records
	table string
}

// Allowlist is the pubkey allowlist (BUZZ_PUBKEY_ALLOWLIST).
func (r *Records) Allowlist() store.PubkeyList { return r.allow }

// RelayMembers is the relay membership list (BUZZ_REQUIRE_RELAY_MEMBERSHIP).
func (r *Records) RelayMembers() store.PubkeyList { return r.member }

// Add inserts pubkey; adding twice is not an error.
func (l *PubkeyList) Add(ctx context.Context, pubkey string) error {
	if err := l.r.db.Exec(ctx, l.r.sql(`INSERT INTO `+l.table+` (pubkey) VALUES ($1) ON CONFLICT DO NOTHING`), pubkey); err != nil {
		return fmt.Errorf("store: %s add: %w", l.table, err)
	}
	return nil
}

// Remove deletes pubkey; removing an absent key is not an error.
func (l *PubkeyList) Remove(ctx context.Context, pubkey string) error {
	if err := l.r.db.Exec(ctx, l.r.sql(`DELETE FROM `+l.table+` WHERE pubkey = $1`), pubkey); err != nil {
		return fmt.Errorf("store: %s remove: %w", l.table, err)
	}
	return nil
}

// Contains reports whether pubkey is in the list.
func (l *PubkeyList) Contains(ctx context.Context, pubkey string) (bool, error) {
	var ok bool
	if err := l.r.db.QueryRow(ctx, l.r.sql(`SELECT EXISTS (SELECT 1 FROM `+l.table+` WHERE pubkey = $1)`), pubkey).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: %s contains: %w", l.table, err)
	}
	return ok, nil
}

// List returns every pubkey, sorted.
func (l *PubkeyList) List(ctx context.Context) ([]string, error) {
	keys, err := l.r.column(ctx, `SELECT pubkey FROM `+l.table+` ORDER BY pubkey`)
	if err != nil {
		return nil, fmt.Errorf("store: %s list: %w", l.table, err)
	}
	return keys, nil
}

var _ store.PubkeyList = (*PubkeyList)(nil)
