package sqlite

import (
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/store/storetest"
)

// BenchmarkSQLiteInsert16Writers: 16 goroutines saving distinct signed
// events into one SQLite file.
func BenchmarkSQLiteInsert16Writers(b *testing.B) {
	storetest.BenchInsert(b, openTest(b, b.TempDir()), 16)
}
