package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/buzzrelay/buzz/relay/internal/store/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies pending migrations in one IMMEDIATE transaction: a second
// process starting at the same moment waits for the lock and then finds
// every version recorded.
func migrate(ctx context.Context, db *sql.DB) error {
	migs, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL DEFAULT (unixepoch())
	)`); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	var applied []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return fmt.Errorf("store: migrate: read versions: %w", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	for _, m := range migration.Pending(migs, applied) {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store: migrate %d: %w", m.Version, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version) VALUES (?)", m.Version); err != nil {
			return fmt.Errorf("store: migrate %d: record version: %w", m.Version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}
