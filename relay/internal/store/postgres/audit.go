package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/auditlink"
)

// auditLockKey serialises appends to the audit chain across processes.
const auditLockKey = 0x6275_7a7a_6175_6474 // "buzzaudt"

// AppendAudit appends entries under a transaction-scoped advisory lock, so
// that each process reads the true last hash before linking. It fills in
// each entry's Seq, Time (when zero; stored to the microsecond, which is
// what link sees), PrevHash and Hash, in the caller's slice too. Entries
// that already carry a Seq and Hash are a retry: if that row holds that
// hash, the earlier attempt committed and nothing is inserted.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry, link func(prev []byte, e *store.AuditEntry) []byte) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: append audit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(auditLockKey)); err != nil {
		return fmt.Errorf("store: append audit: lock: %w", err)
	}
	if rseq, rhash, ok := auditlink.Retry(entries); ok {
		var stored []byte
		err := tx.QueryRow(ctx, "SELECT hash FROM audit_log WHERE seq = $1", rseq).Scan(&stored)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: append audit: earlier attempt: %w", err)
		}
		if auditlink.Written(stored, rhash) {
			return nil
		}
	}
	var seq int64
	prev := []byte{}
	err = tx.QueryRow(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: append audit: last entry: %w", err)
	}
	auditlink.Apply(entries, seq, prev, time.Now(), link)
	b := &pgx.Batch{}
	for _, e := range entries {
		b.Queue(`INSERT INTO audit_log (seq, at, actor, action, event_id, kind, channel, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.Seq, e.Time, e.Actor, e.Action, e.EventID, int32(e.Kind), e.Channel, e.Detail, e.PrevHash, e.Hash)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: append audit: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: append audit: commit: %w", err)
	}
	return nil
}

// AuditEntries calls fn for every entry in sequence order, stopping at the
// first error fn returns.
func (s *Store) AuditEntries(ctx context.Context, fn func(store.AuditEntry) error) error {
	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, action, event_id, kind, channel, detail, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("store: audit entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.AuditEntry
		var kind int32
		if err := rows.Scan(&e.Seq, &e.Time, &e.Actor, &e.Action, &e.EventID, &kind, &e.Channel, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("store: audit entries: %w", err)
		}
		e.Kind = int(kind)
		e.Time = e.Time.UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: audit entries: %w", err)
	}
	return nil
}
