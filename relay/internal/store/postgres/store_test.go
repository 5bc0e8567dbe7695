package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
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
