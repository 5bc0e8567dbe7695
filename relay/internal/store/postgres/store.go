// Package postgres is the PostgreSQL implementation of store.Store, used when
// DATABASE_URL is set. Several relay processes may share one database: every
// rule that must hold across them (replaceable versions, deletions, channel
// creation, the audit chain) is enforced inside the database with
// transactions, advisory transaction locks and unique constraints, never in
// process memory.
package postgres

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/records"
)

// Options configures Open.
type Options struct {
	// PoolSize is the pool's maximum number of connections; 0 keeps
	// pgxpool's default (or pool_max_conns from the URL).
	PoolSize int32
	// Schema, when set, is created if absent and put on every pooled
	// connection's search_path, so tests (or tenants) can share a database.
	Schema string
}

// Store is a store.Store on a pgxpool.
type Store struct {
	pool *pgxpool.Pool
	db   poolDB
	// recordSet answers Channel, Membership, MemberChannels, Members,
	// Allowlist and RelayMembers.
	*recordSet
}

// recordSet names the embedded records.Records without exporting a field.
type recordSet = records.Records

var _ store.Store = (*Store)(nil)

// schemaName restricts schema names to plain identifiers; they travel in the
// startup search_path parameter, where quoting rules are awkward.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// poolConfig parses url and applies opts. It returns opts with Schema
// filled in from the URL's search_path when opts named none and the URL
// names a single schema, so migrations create and use that same schema.
func poolConfig(url string, opts Options) (*pgxpool.Config, Options, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, opts, fmt.Errorf("store: parse database url: %w", err)
	}
	if opts.PoolSize > 0 {
		cfg.MaxConns = opts.PoolSize
	}
	if opts.Schema == "" {
		if sp := cfg.ConnConfig.RuntimeParams["search_path"]; schemaName.MatchString(sp) {
			opts.Schema = sp
		}
	}
	if opts.Schema != "" {
		if !schemaName.MatchString(opts.Schema) {
			return nil, opts, fmt.Errorf("store: schema %q must be a lowercase identifier", opts.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	return cfg, opts, nil
}

// Open connects, applies pending migrations and returns the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, opts, err := poolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, url, opts); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: ping: %w", err)
	}
	db := poolDB{pool}
	return &Store{
		pool:      pool,
		db:        db,
		recordSet: records.New(db, true),
	}, nil
}

// Pool exposes the connection pool for tests and tooling (raw SQL, EXPLAIN).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close releases the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// PoolStats samples the pgxpool counters.
func (s *Store) PoolStats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{
		Size: int64(st.TotalConns()),
		Idle: int64(st.IdleConns()),
		Max:  int64(st.MaxConns()),
	}
}

// DropSchema removes schema and everything in it; tests call it in Cleanup.
func DropSchema(ctx context.Context, url, schema string) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("store: schema %q must be a lowercase identifier", schema)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("store: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("store: drop schema: %w", err)
	}
	return nil
}
