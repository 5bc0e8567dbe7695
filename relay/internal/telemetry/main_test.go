package telemetry

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if Shutdown leaves exporter, batch-processor or
// gRPC goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
