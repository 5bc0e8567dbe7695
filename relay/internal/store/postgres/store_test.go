package postgres

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
)

// newSchema returns a random schema name dropped when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	schema := relaytest.RandomName("buzz_test_")
	t.Cleanup(func() {
		if err := DropSchema(context.Background(), relaytest.DatabaseURL(), schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return schema
}

// openTest opens a store in a fresh schema, closed before the schema drops.
func openTest(t testing.TB, schema string, pool int32) *Store {
	t.Helper()
	s, err := Open(context.Background(), relaytest.DatabaseURL(), Options{PoolSize: pool, Schema: schema})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, newSchema(t), 8)
	})
}

// TestSchemaFromURL: with no Schema option, a search_path in DATABASE_URL
// names the schema the relay migrates and uses (it did not exist before).
func TestSchemaFromURL(t *testing.T) {
	schema := newSchema(t)
	u, err := url.Parse(relaytest.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), u.String(), Options{PoolSize: 2})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	ev := storetest.NewSigner("url-schema").Event(1, 1_700_000_000, "hello")
	if err := s.Save(context.Background(), ev, nil); err != nil {
		t.Fatalf("save: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM "+pgx.Identifier{schema, "events"}.Sanitize()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("events in %s: %d, %v", schema, n, err)
	}
}
