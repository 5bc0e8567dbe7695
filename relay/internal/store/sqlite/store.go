// Package sqlite is the embedded store.Store used when DATABASE_URL is
// unset: one SQLite file (pure Go, modernc.org/sqlite) in WAL mode. Every
// write is an IMMEDIATE transaction, so writers serialise on the database's
// own lock (with a busy timeout) rather than behind a Go mutex, and several
// processes on one file stay correct; readers run concurrently under WAL.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/records"
)

// FileName is the database file inside the data directory.
const FileName = "buzz.db"

// busyTimeout is how long a writer waits for another's transaction.
const busyTimeout = 10 * time.Second

// maxConns bounds the pool; WAL lets this many readers work at once.
const maxConns = 8

// Store is a store.Store on one SQLite database file.
type Store struct {
	db   *sql.DB
	conn sqlDB
	// recordSet answers Channel, Membership, MemberChannels, Members,
	// Allowlist and RelayMembers.
	*recordSet
}

// recordSet names the embedded records.Records without exporting a field.
type recordSet = records.Records

var _ store.Store = (*Store)(nil)

// Open creates dir if needed, opens dir/buzz.db and applies migrations.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	db, err := openDB(filepath.Join(dir, FileName))
	if err != nil {
		return nil, err
	}
	if err := migrateRetrying(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	conn := sqlDB{db}
	return &Store{
		db:        db,
		conn:      conn,
		recordSet: records.New(conn, false),
	}, nil
}

// openDB opens the pool with the per-connection settings in the DSN, so
// every connection the pool makes gets them. synchronous=FULL because OK
// true promises a durable write.
func openDB(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	return db, nil
}

// DB exposes the database for tests and tooling.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// PoolStats samples database/sql's pool counters.
func (s *Store) PoolStats() store.PoolStats {
	st := s.db.Stats()
	return store.PoolStats{Size: int64(st.OpenConnections), Idle: int64(st.Idle), Max: int64(st.MaxOpenConnections)}
}

// migrateRetrying runs migrate, retrying while the file is busy. While a
// new file is switched to WAL by one opener, SQLite can refuse another's
// BEGIN IMMEDIATE with SQLITE_BUSY without consulting the busy timeout.
func migrateRetrying(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := migrate(ctx, db)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: migrate: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock conflict.
const sqliteBusy = 5
