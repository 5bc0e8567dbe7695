package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlite"
)

// backend is a real store plus raw SQL for tampering with it.
type backend struct {
	name string
	st   store.Audit
	// exec runs raw SQL without arguments, for tampering.
	exec func(ctx context.Context, sql string) error
}

// openPostgres opens a store on a fresh schema, dropped when the test ends.
func openPostgres(t testing.TB, schema string) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	url := relaytest.DatabaseURL()
	st, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, PoolSize: 4})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return st
}

// postgresOpenNoDrop opens a second pool on a schema another store owns.
func postgresOpenNoDrop(schema string) (*postgres.Store, error) {
	return postgres.Open(context.Background(), relaytest.DatabaseURL(), postgres.Options{Schema: schema, PoolSize: 4})
}

func postgresBackend(t testing.TB) backend {
	st := openPostgres(t, relaytest.RandomName("audit_test_"))
	return backend{
		name: "postgres",
		st:   st,
		exec: func(ctx context.Context, sql string) error {
			_, err := st.Pool().Exec(ctx, sql)
			return err
		},
	}
}

func sqliteBackend(t testing.TB) backend {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return backend{
		name: "sqlite",
		st:   st,
		exec: func(ctx context.Context, sql string) error {
			_, err := st.DB().ExecContext(ctx, sql)
			return err
		},
	}
}

// forEachBackend runs fn as a subtest against both real stores.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteBackend(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresBackend(t)) })
}

// counters is an Observer that counts.
type counters struct {
	written, batches, writeFailed, sendFailed atomic.Int64
}

func (c *counters) Written(_ time.Duration, n int) { c.written.Add(int64(n)); c.batches.Add(1) }
func (c *counters) WriteFailed()                   { c.writeFailed.Add(1) }
func (c *counters) SendFailed()                    { c.sendFailed.Add(1) }

// gated holds every AppendAudit until open is closed, then passes it to
// the real store; it stands in for a database that stopped answering.
type gated struct {
	store.Audit
	open    chan struct{}
	entered chan struct{} // receives once per call that reached the gate
}

func newGated(st store.Audit) *gated {
	return &gated{Audit: st, open: make(chan struct{}), entered: make(chan struct{}, 100)}
}

func (g *gated) AppendAudit(ctx context.Context, es []store.AuditEntry, link func([]byte, *store.AuditEntry) []byte) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Audit.AppendAudit(ctx, es, link)
}

// flaky fails the first n AppendAudit calls, then passes them to the real
// store; it stands in for a database that was briefly unreachable.
type flaky struct {
	store.Audit
	mu   sync.Mutex
	left int
}

var errFlaky = errors.New("connection refused (test)")

func (f *flaky) AppendAudit(ctx context.Context, es []store.AuditEntry, link func([]byte, *store.AuditEntry) []byte) error {
	f.mu.Lock()
	fail := f.left > 0
	if fail {
		f.left--
	}
	f.mu.Unlock()
	if fail {
		return errFlaky
	}
	return f.Audit.AppendAudit(ctx, es, link)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func jsonLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// readAll returns every stored entry in chain order.
func readAll(t testing.TB, st store.Audit) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	if err := st.AuditEntries(context.Background(), func(e store.AuditEntry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	return out
}

// hexID makes a distinct 64-hex-digit id for entry i of writer w.
func hexID(w, i int) string {
	var b [32]byte
	b[0], b[1], b[2] = byte(w), byte(i>>8), byte(i)
	return hex.EncodeToString(b[:])
}

// startLog runs a Log's writer for the test's lifetime.
func startLog(t testing.TB, l interface{ Run(context.Context) }) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
