package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/config"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
	"github.com/buzzrelay/buzz/relay/internal/telemetry"
)

// storeKinds lists the stores every end-to-end test runs against.
var storeKinds = []string{"sqlite", "postgres"}

var (
	testDatabaseURL = relaytest.DatabaseURL
	freePort        = relaytest.FreePort
	randomName      = relaytest.RandomName
)

// testRelay is a relay running in this process on real sockets.
type testRelay struct {
	*Server
	URL string
}

// startRelay starts a relay on the given store kind; env overrides settings.
func startRelay(t testing.TB, kind string, env map[string]string) *testRelay {
	t.Helper()
	port := freePort(t)
	vars := map[string]string{
		"BUZZ_BIND_ADDR":         fmt.Sprintf("127.0.0.1:%d", port),
		"BUZZ_HEALTH_PORT":       "0",
		"BUZZ_METRICS_GRPC_ADDR": "127.0.0.1:0",
		"BUZZ_DATA_DIR":          t.TempDir(),
		"RELAY_URL":              fmt.Sprintf("ws://127.0.0.1:%d", port),
		"BUZZ_DRAIN_DELAY_SECS":  "0",
	}
	if kind == "postgres" {
		schema := randomName("e2e_")
		vars["DATABASE_URL"] = testDatabaseURL()
		vars["BUZZ_DB_SCHEMA"] = schema
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := postgres.DropSchema(ctx, testDatabaseURL(), schema); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	tracing := telemetry.Start(ctx, func(string) string { return "" }, "test")
	srv, err := New(ctx, cfg, log, tracing, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r := &testRelay{Server: srv, URL: cfg.RelayURL}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *testRelay) stop(t testing.TB) {
	if r.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	r.Server = nil
}

// user is a test identity.
type user = relaytest.User

func newUser(t testing.TB) user { return relaytest.NewUser(t) }

// connect opens a go-nostr connection without authenticating.
func (r *testRelay) connect(t testing.TB) *gonostr.Relay { return relaytest.Connect(t, r.URL) }

// login connects and authenticates as u.
func (r *testRelay) login(t testing.TB, u user) *gonostr.Relay { return relaytest.Login(t, r.URL, u) }

var (
	authenticate = relaytest.Authenticate
	okMessage    = relaytest.OKMessage
	toEvent      = relaytest.ToEvent
)
