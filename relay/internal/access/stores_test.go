package access

import (
	"context"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlite"
)

// openSQLite opens a fresh embedded store in a temporary directory.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens the PostgreSQL store in a schema of its own, dropped
// when the test ends, so parallel runs never meet.
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	schema := relaytest.RandomName("access_test_")
	url := relaytest.DatabaseURL()
	st, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, PoolSize: 4})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		if err := postgres.DropSchema(ctx, url, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return st
}

// forEachStore runs fn against each real store implementation.
func forEachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t)) })
}
