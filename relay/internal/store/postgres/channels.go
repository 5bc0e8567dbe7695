package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Channel returns the channel or store.ErrNotFound.
func (s *Store) Channel(ctx context.Context, id string) (store.Channel, error) {
	var c store.Channel
	var vis string
	err := s.pool.QueryRow(ctx, `SELECT id, name, visibility, creator, created_at FROM channels WHERE id = $1`,
		id).Scan(&c.ID, &c.Name, &vis, &c.Creator, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Channel{}, fmt.Errorf("store: channel %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Channel{}, fmt.Errorf("store: channel: %w", err)
	}
	c.Visibility = store.Visibility(vis)
	return c, nil
}

// Membership returns the pubkey's role in the channel or store.ErrNotFound.
func (s *Store) Membership(ctx context.Context, channel, pubkey string) (store.Role, error) {
	var role string
	err := s.pool.QueryRow(ctx, `SELECT role FROM channel_members WHERE channel_id = $1 AND pubkey = $2`,
		channel, pubkey).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: membership: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: membership: %w", err)
	}
	return store.Role(role), nil
}

// MemberChannels returns the ids of the channels pubkey belongs to, sorted.
func (s *Store) MemberChannels(ctx context.Context, pubkey string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT channel_id FROM channel_members WHERE pubkey = $1 ORDER BY channel_id`, pubkey)
	if err != nil {
		return nil, fmt.Errorf("store: member channels: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: member channels: %w", err)
	}
	return ids, nil
}

// Members lists a channel's members and their roles.
func (s *Store) Members(ctx context.Context, channel string) (map[string]store.Role, error) {
	rows, err := s.pool.Query(ctx, `SELECT pubkey, role FROM channel_members WHERE channel_id = $1`, channel)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	defer rows.Close()
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

// pubkeyList is a set of pubkeys in one table (allowlist or relay_members).
// table is one of two constants, never user input.
type pubkeyList struct {
	pool  *pgxpool.Pool
	table string
}

// Add inserts pubkey; adding twice is not an error.
func (l *pubkeyList) Add(ctx context.Context, pubkey string) error {
	if _, err := l.pool.Exec(ctx, `INSERT INTO `+l.table+` (pubkey) VALUES ($1) ON CONFLICT DO NOTHING`, pubkey); err != nil {
		return fmt.Errorf("store: %s add: %w", l.table, err)
	}
	return nil
}

// Remove deletes pubkey; removing an absent key is not an error.
func (l *pubkeyList) Remove(ctx context.Context, pubkey string) error {
	if _, err := l.pool.Exec(ctx, `DELETE FROM `+l.table+` WHERE pubkey = $1`, pubkey); err != nil {
		return fmt.Errorf("store: %s remove: %w", l.table, err)
	}
	return nil
}

// Contains reports whether pubkey is in the list.
func (l *pubkeyList) Contains(ctx context.Context, pubkey string) (bool, error) {
	var ok bool
	if err := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+l.table+` WHERE pubkey = $1)`, pubkey).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: %s contains: %w", l.table, err)
	}
	return ok, nil
}

// List returns every pubkey, sorted.
func (l *pubkeyList) List(ctx context.Context) ([]string, error) {
	rows, err := l.pool.Query(ctx, `SELECT pubkey FROM `+l.table+` ORDER BY pubkey`)
	if err != nil {
		return nil, fmt.Errorf("store: %s list: %w", l.table, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: %s list: %w", l.table, err)
	}
	return keys, nil
}
