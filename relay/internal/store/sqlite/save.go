package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventrow"
	"github.com/buzzrelay/buzz/relay/internal/store/saverule"
)

// Save stores ev in one IMMEDIATE transaction: it holds the database's
// write lock from the first read, so the checks and the writes see one
// consistent state even with other processes on the same file.
func (s *Store) Save(ctx context.Context, ev *nostr.Event, change *store.ChannelChange) error {
	r, err := saverule.Prepare(ev, nil)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var st saverule.Stored
	err = tx.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM deleted_events WHERE id = ?1 AND pubkey = ?2),
		EXISTS (SELECT 1 FROM events WHERE id = ?1),
		(SELECT deleted_until FROM deleted_addresses WHERE replace_key = ?3),
		(SELECT created_at FROM events WHERE replace_key = ?3),
		(SELECT id FROM events WHERE replace_key = ?3),
		?4 = '' OR EXISTS (SELECT 1 FROM channels WHERE id = ?4)`,
		ev.ID, ev.PubKey, r.ReplaceKey, r.Channel).
		Scan(&st.Deleted, &st.Duplicate, &st.AddrDeletedUntil, &st.CurrentAt, &st.CurrentID, &st.ChannelExists)
	if err != nil {
		return fmt.Errorf("store: save: check: %w", err)
	}
	if err := saverule.Check(r, st, change); err != nil {
		return err
	}
	if st.CurrentAt != nil {
		if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE replace_key = ?", r.ReplaceKey); err != nil {
			return fmt.Errorf("store: save: replace: %w", err)
		}
	}
	if change != nil {
		if err := applyChange(ctx, tx, change); err != nil {
			return err
		}
	}
	if err := insertEvent(ctx, tx, r); err != nil {
		return err
	}
	if ev.Kind == nostr.KindDeletion {
		if err := applyDeletion(ctx, tx, ev); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save: commit: %w", err)
	}
	return nil
}

func insertEvent(ctx context.Context, tx *sql.Tx, r eventrow.Row) error {
	ev := r.Event
	// NULL, not an empty value, for absent columns: the partial indexes
	// skip NULLs and the replace_key index is unique.
	var channel, replaceKey any
	if r.Channel != "" {
		channel = r.Channel
	}
	if r.ReplaceKey != nil {
		replaceKey = r.ReplaceKey
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, pubkey, created_at, kind, channel, replace_key, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, ev.PubKey, ev.CreatedAt, ev.Kind, channel, replaceKey, r.Raw); err != nil {
		return fmt.Errorf("store: save: insert event: %w", err)
	}
	if len(r.TagNames) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO event_tags (event_id, name, value, created_at) VALUES (?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("store: save: insert tags: %w", err)
	}
	defer func() { _ = stmt.Close() }()
	for i := range r.TagNames {
		if _, err := stmt.ExecContext(ctx, ev.ID, r.TagNames[i], r.TagValues[i], ev.CreatedAt); err != nil {
			return fmt.Errorf("store: save: insert tags: %w", err)
		}
	}
	return nil
}

func applyChange(ctx context.Context, tx *sql.Tx, change *store.ChannelChange) error {
	if c := change.Create; c != nil {
		vis := c.Visibility
		if vis == "" {
			vis = store.Open
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO channels (id, name, visibility, creator, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.Name, string(vis), c.Creator, c.CreatedAt)
		if err != nil {
			return fmt.Errorf("store: save: create channel: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrChannelExists
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_members (channel_id, pubkey, role)
			VALUES (?, ?, 'admin') ON CONFLICT (channel_id, pubkey) DO UPDATE SET role = 'admin'`,
			c.ID, c.Creator); err != nil {
			return fmt.Errorf("store: save: add channel admin: %w", err)
		}
	}
	if change.AddMember != "" {
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM channels WHERE id = ?)", change.Channel).Scan(&exists); err != nil {
			return fmt.Errorf("store: save: add member: %w", err)
		}
		if !exists {
			return fmt.Errorf("store: save: add member: channel %w", store.ErrNotFound)
		}
		role := change.AddRole
		if role == "" {
			role = store.RoleMember
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_members (channel_id, pubkey, role)
			VALUES (?, ?, ?) ON CONFLICT (channel_id, pubkey) DO UPDATE SET role = excluded.role`,
			change.Channel, change.AddMember, string(role)); err != nil {
			return fmt.Errorf("store: save: add member: %w", err)
		}
	}
	if change.RemoveMember != "" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM channel_members WHERE channel_id = ? AND pubkey = ?",
			change.Channel, change.RemoveMember); err != nil {
			return fmt.Errorf("store: save: remove member: %w", err)
		}
	}
	return nil
}

// applyDeletion carries out a kind 5 event: the author's own events by id
// (never other deletions) and the author's addresses up to its created_at,
// leaving tombstones for both.
func applyDeletion(ctx context.Context, tx *sql.Tx, ev *nostr.Event) error {
	ids, keys := eventrow.DeletionTargets(ev)
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE id = ? AND pubkey = ? AND kind <> 5", id, ev.PubKey); err != nil {
			return fmt.Errorf("store: save: delete by id: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deleted_events (id, pubkey, deleted_by) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, id, ev.PubKey, ev.ID); err != nil {
			return fmt.Errorf("store: save: record deleted id: %w", err)
		}
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE replace_key = ? AND created_at <= ?", k, ev.CreatedAt); err != nil {
			return fmt.Errorf("store: save: delete by address: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deleted_addresses (replace_key, deleted_until, deleted_by)
			VALUES (?, ?, ?)
			ON CONFLICT (replace_key) DO UPDATE
			SET deleted_until = max(deleted_until, excluded.deleted_until),
			    deleted_by = CASE WHEN excluded.deleted_until > deleted_until THEN excluded.deleted_by ELSE deleted_by END`,
			k, ev.CreatedAt, ev.ID); err != nil {
			return fmt.Errorf("store: save: record deleted address: %w", err)
		}
	}
	return nil
}
