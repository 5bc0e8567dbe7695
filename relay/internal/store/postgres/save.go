package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/eventrow"
	"github.com/buzzrelay/buzz/relay/internal/store/saverule"
)

// Save stores ev in one transaction. Before reading anything it takes
// transaction-scoped advisory locks, in ascending order so that no two
// saves deadlock, on the event's id, its replaceable slot and (for kind 5)
// every id and slot it deletes. Saves and deletions touching the same id or
// slot therefore run one after another in whichever relay process they
// arrive, and each sees what the previous one committed.
func (s *Store) Save(ctx context.Context, ev *nostr.Event, change *store.ChannelChange) error {
	r, err := saverule.Prepare(ev, tagKey)
	if err != nil {
		return err
	}
	var delIDs []string
	var delKeys [][]byte
	if ev.Kind == nostr.KindDeletion {
		delIDs, delKeys = eventrow.DeletionTargets(ev)
	}
	locks := []int64{idLockKey(ev.ID)}
	if r.ReplaceKey != nil {
		locks = append(locks, lockKey(r.ReplaceKey))
	}
	for _, id := range delIDs {
		locks = append(locks, idLockKey(id))
	}
	for _, k := range delKeys {
		locks = append(locks, lockKey(k))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: save: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	st, err := checkSave(ctx, tx, r, locks)
	if err != nil {
		return err
	}
	if err := saverule.Check(r, st, change); err != nil {
		return err
	}
	if err := writeSave(ctx, tx, r, st.CurrentAt != nil, change, delIDs, delKeys); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: save: commit: %w", mapErr(err))
	}
	return nil
}

// checkSave takes the locks and reads the state in one round trip.
func checkSave(ctx context.Context, tx pgx.Tx, r eventrow.Row, locks []int64) (saverule.Stored, error) {
	b := &pgx.Batch{}
	for _, k := range locks {
		b.Queue("SELECT pg_advisory_xact_lock($1)", k)
	}
	b.Queue(`SELECT
		EXISTS (SELECT 1 FROM deleted_events WHERE id = $1 AND pubkey = $2),
		EXISTS (SELECT 1 FROM events WHERE id = $1),
		(SELECT deleted_until FROM deleted_addresses WHERE replace_key = $3::bytea),
		(SELECT created_at FROM events WHERE replace_key = $3::bytea),
		(SELECT id FROM events WHERE replace_key = $3::bytea),
		$4::text = '' OR EXISTS (SELECT 1 FROM channels WHERE id = $4::text)`,
		r.Event.ID, r.Event.PubKey, r.ReplaceKey, r.Channel)
	br := tx.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	for range locks {
		if _, err := br.Exec(); err != nil {
			return saverule.Stored{}, fmt.Errorf("store: save: lock: %w", err)
		}
	}
	var st saverule.Stored
	if err := br.QueryRow().Scan(&st.Deleted, &st.Duplicate, &st.AddrDeletedUntil, &st.CurrentAt, &st.CurrentID, &st.ChannelExists); err != nil {
		return saverule.Stored{}, fmt.Errorf("store: save: check: %w", err)
	}
	if err := br.Close(); err != nil {
		return saverule.Stored{}, fmt.Errorf("store: save: check: %w", err)
	}
	return st, nil
}

// writeSave applies the replacement, channel change, insert and deletions
// in one round trip.
func writeSave(ctx context.Context, tx pgx.Tx, r eventrow.Row, replaces bool, change *store.ChannelChange, delIDs []string, delKeys [][]byte) error {
	ev := r.Event
	b := &pgx.Batch{}
	type step struct {
		what  string
		check func(pgconn.CommandTag) error
	}
	var steps []step
	queue := func(what string, check func(pgconn.CommandTag) error, sql string, args ...any) {
		b.Queue(sql, args...)
		steps = append(steps, step{what, check})
	}
	if replaces {
		queue("replace", nil, "DELETE FROM events WHERE replace_key = $1", r.ReplaceKey)
	}
	if change != nil {
		queueChange(queue, change)
	}
	var channel *string
	if r.Channel != "" {
		channel = &r.Channel
	}
	queue("insert event", func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() == 0 {
			return store.ErrDuplicate
		}
		return nil
	}, `INSERT INTO events (id, pubkey, created_at, kind, channel, replace_key, raw)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		ev.ID, ev.PubKey, ev.CreatedAt, int32(ev.Kind), channel, r.ReplaceKey, r.Raw)
	if len(r.TagNames) > 0 {
		queue("insert tags", nil, `INSERT INTO event_tags (event_id, name, value, created_at)
			SELECT $1::text, n, v, $4::bigint FROM unnest($2::text[], $3::text[]) AS t(n, v)`,
			ev.ID, r.TagNames, r.TagValues, ev.CreatedAt)
	}
	if len(delIDs) > 0 {
		queue("delete by id", nil, "DELETE FROM events WHERE id = ANY($1) AND pubkey = $2 AND kind <> 5", delIDs, ev.PubKey)
		queue("record deleted ids", nil, `INSERT INTO deleted_events (id, pubkey, deleted_by)
			SELECT unnest($1::text[]), $2::text, $3::text ON CONFLICT DO NOTHING`, delIDs, ev.PubKey, ev.ID)
	}
	if len(delKeys) > 0 {
		queue("delete by address", nil, "DELETE FROM events WHERE replace_key = ANY($1) AND created_at <= $2", delKeys, ev.CreatedAt)
		queue("record deleted addresses", nil, `INSERT INTO deleted_addresses (replace_key, deleted_until, deleted_by)
			SELECT unnest($1::bytea[]), $2::bigint, $3::text
			ON CONFLICT (replace_key) DO UPDATE
			SET deleted_until = GREATEST(deleted_addresses.deleted_until, EXCLUDED.deleted_until),
			    deleted_by = CASE WHEN EXCLUDED.deleted_until > deleted_addresses.deleted_until
			                      THEN EXCLUDED.deleted_by ELSE deleted_addresses.deleted_by END`,
			delKeys, ev.CreatedAt, ev.ID)
	}
	br := tx.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	for _, st := range steps {
		tag, err := br.Exec()
		if err != nil {
			return wrapMapped("store: save: "+st.what, err)
		}
		if st.check != nil {
			if err := st.check(tag); err != nil {
				return err
			}
		}
	}
	if err := br.Close(); err != nil {
		return wrapMapped("store: save", err)
	}
	return nil
}

// queueChange adds the statements for a channel change.
func queueChange(queue func(string, func(pgconn.CommandTag) error, string, ...any), change *store.ChannelChange) {
	if c := change.Create; c != nil {
		vis := c.Visibility
		if vis == "" {
			vis = store.Open
		}
		queue("create channel", func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == 0 {
				return store.ErrChannelExists
			}
			return nil
		}, `INSERT INTO channels (id, name, visibility, creator, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.Name, string(vis), c.Creator, c.CreatedAt)
		queue("add channel admin", nil, `INSERT INTO channel_members (channel_id, pubkey, role)
			VALUES ($1, $2, 'admin') ON CONFLICT (channel_id, pubkey) DO UPDATE SET role = 'admin'`,
			c.ID, c.Creator)
	}
	if change.AddMember != "" {
		role := change.AddRole
		if role == "" {
			role = store.RoleMember
		}
		queue("add member", nil, `INSERT INTO channel_members (channel_id, pubkey, role)
			VALUES ($1, $2, $3) ON CONFLICT (channel_id, pubkey) DO UPDATE SET role = EXCLUDED.role`,
			change.Channel, change.AddMember, string(role))
	}
	if change.RemoveMember != "" {
		queue("remove member", nil, "DELETE FROM channel_members WHERE channel_id = $1 AND pubkey = $2",
			change.Channel, change.RemoveMember)
	}
}

// mapErr turns constraint violations into the store's errors so callers
// can react to them; anything else is returned as is.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "23503":
		return fmt.Errorf("%w (%s)", store.ErrNotFound, pe.ConstraintName)
	case pe.Code == "23505" && pe.ConstraintName == "events_pkey":
		return store.ErrDuplicate
	case pe.Code == "23505" && pe.ConstraintName == "events_replace_key_idx":
		return store.ErrSuperseded
	case pe.Code == "23505" && pe.ConstraintName == "channels_pkey":
		return store.ErrChannelExists
	}
	return err
}

// wrapMapped wraps err with context, mapping constraint violations first.
func wrapMapped(what string, err error) error {
	return fmt.Errorf("%s: %w", what, mapErr(err))
}
