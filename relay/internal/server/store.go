package server

import (
	"context"
	"fmt"

	"github.com/buzzrelay/buzz/relay/internal/config"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlite"
)

// OpenStore opens the configured store, applying migrations: PostgreSQL when
// DATABASE_URL is set, else the embedded SQLite store in the data dir.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{PoolSize: cfg.DBPoolSize, Schema: cfg.DBSchema})
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", cfg.DataDir, err)
	}
	return st, nil
}
