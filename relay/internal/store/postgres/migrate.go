package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/buzzrelay/buzz/relay/internal/store/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies pending migrations. It holds a session advisory lock
// (keyed by the schema) while it works, so processes starting together
// migrate one at a time and the later ones find nothing left to do.
func Migrate(ctx context.Context, url string, opts Options) error {
	migs, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	cfg, opts, err := poolConfig(url, opts)
	if err != nil {
		return err
	}
	// The schema may not exist yet; connect without the search_path and
	// qualify nothing until it does. A search_path that is not one plain
	// schema (a list, say) is the operator's and stays as it is.
	connCfg := cfg.ConnConfig.Copy()
	if opts.Schema != "" {
		delete(connCfg.RuntimeParams, "search_path")
	}
	conn, err := pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		return fmt.Errorf("store: migrate: connect: %w", err)
	}
	defer conn.Close(ctx)

	lockKey := "buzz.migrate." + opts.Schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		return fmt.Errorf("store: migrate: lock: %w", err)
	}
	defer func() {
		// Closing the connection releases the lock too; unlocking
		// explicitly just makes that prompt.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", lockKey)
	}()

	if opts.Schema != "" {
		ident := pgx.Identifier{opts.Schema}.Sanitize()
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
			return fmt.Errorf("store: migrate: create schema: %w", err)
		}
		if _, err := conn.Exec(ctx, "SET search_path TO "+ident); err != nil {
			return fmt.Errorf("store: migrate: set search_path: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	for _, m := range migration.Pending(migs, applied) {
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, m migration.File) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate %d: begin: %w", m.Version, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("store: migrate %d: %w", m.Version, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.Version); err != nil {
		return fmt.Errorf("store: migrate %d: record version: %w", m.Version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: migrate %d: commit: %w", m.Version, err)
	}
	return nil
}
