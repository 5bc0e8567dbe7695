package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
	"github.com/jackc/pgx/v5"
)

func testURL() string {
	if u := os.Getenv("BUZZ_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// newSchema returns a random schema name dropped when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "buzz_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := DropSchema(context.Background(), testURL(), schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return schema
}

// openTest opens a store in a fresh schema, closed before the schema drops.
func openTest(t testing.TB, schema string, pool int32) *Store {
	t.Helper()
	s, err := Open(context.Background(), testURL(), Options{PoolSize: pool, Schema: schema})
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
	u, err := url.Parse(testURL())
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
