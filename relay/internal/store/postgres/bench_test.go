package postgres

import (
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
)

// BenchmarkPostgresInsert16Writers: 16 goroutines saving distinct signed
// events through one pool of 20 (the default BUZZ_DB_POOL_SIZE).
func BenchmarkPostgresInsert16Writers(b *testing.B) {
	storetest.BenchInsert(b, openTest(b, newSchema(b), 20), 16)
}
