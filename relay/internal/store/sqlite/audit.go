package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/auditlink"
)

// AppendAudit appends entries in one IMMEDIATE transaction, so the last
// hash it reads is still the last when it writes. It fills in each entry's
// Seq, Time (when zero; stored to the microsecond, which is what link
// sees), PrevHash and Hash, in the caller's slice too. Entries that already
// carry a Seq and Hash are a retry: if that row holds that hash, the earlier
// attempt committed and nothing is inserted.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry, link func(prev []byte, e *store.AuditEntry) []byte) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: append audit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if rseq, rhash, ok := auditlink.Retry(entries); ok {
		var stored []byte
		err := tx.QueryRowContext(ctx, "SELECT hash FROM audit_log WHERE seq = ?", rseq).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: append audit: earlier attempt: %w", err)
		}
		if auditlink.Written(stored, rhash) {
			return nil
		}
	}
	var seq int64
	prev := []byte{}
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: append audit: last entry: %w", err)
	}
	auditlink.Apply(entries, seq, prev, time.Now(), link)
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, event_id, kind, channel, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Time.UnixMicro(), e.Actor, e.Action, e.EventID, e.Kind, e.Channel, e.Detail, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("store: append audit: insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append audit: commit: %w", err)
	}
	return nil
}

// AuditEntries calls fn for every entry in sequence order, stopping at the
// first error fn returns.
func (s *Store) AuditEntries(ctx context.Context, fn func(store.AuditEntry) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, actor, action, event_id, kind, channel, detail, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("store: audit entries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.EventID, &e.Kind, &e.Channel, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("store: audit entries: %w", err)
		}
		e.Time = time.UnixMicro(at).UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: audit entries: %w", err)
	}
	return nil
}
