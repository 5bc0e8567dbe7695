package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/audit"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
	"github.com/buzzrelay/buzz/relay/internal/store"
	"github.com/buzzrelay/buzz/relay/internal/store/postgres"
)

var relayBin string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, "", proctest.Binary{Pkg: ".", Path: &relayBin}))
}

// startProc runs buzz-relay serve with env and waits until it listens. Its
// log must be JSON throughout, and is kept whole for the tests to read.
func startProc(t *testing.T, env map[string]string) *proctest.Relay {
	t.Helper()
	return proctest.StartRelay(t, relayBin, env, proctest.Options{Args: []string{"serve"}, StrictJSON: true, KeepLog: true})
}

// load publishes from several clients until stopped; it returns the ids the
// relay answered with OK true.
func load(t *testing.T, url string, clients int, stop <-chan struct{}) func() []string {
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		u := relaytest.NewUser(t)
		c := relaytest.MustDialRaw(t, url, u)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := u.Event(t, 1, fmt.Sprintf("load %d", n))
				accepted, _, err := c.Publish(ev)
				if err != nil {
					return // the relay went away before answering: stop this client
				}
				if accepted {
					mu.Lock()
					ok = append(ok, ev.ID)
					mu.Unlock()
				}
			}
		}()
	}
	return func() []string { wg.Wait(); mu.Lock(); defer mu.Unlock(); return ok }
}

func pgEnv(t *testing.T) (map[string]string, string) {
	schema := relaytest.RandomName("proc_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = postgres.DropSchema(ctx, relaytest.DatabaseURL(), schema)
	})
	return map[string]string{"DATABASE_URL": relaytest.DatabaseURL(), "BUZZ_DB_SCHEMA": schema}, schema
}

func openStore(t *testing.T, schema string) store.Store {
	st, err := postgres.Open(context.Background(), relaytest.DatabaseURL(), postgres.Options{Schema: schema, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// assertStored checks every id is in the store.
func assertStored(t *testing.T, st store.Store, ids []string) {
	t.Helper()
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		limit := len(batch)
		got, err := st.Query(context.Background(), []nostr.Filter{{IDs: batch, Limit: &limit}}, store.Scope{Unrestricted: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(batch) {
			t.Fatalf("%d of %d accepted events are missing from the store", len(batch)-len(got), len(batch))
		}
	}
}

func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	env, schema := pgEnv(t)
	env["BUZZ_DRAIN_DELAY_SECS"] = "1"
	p := startProc(t, env)

	// An idle authenticated socket must see close code 1012.
	idle, _, err := websocket.DefaultDialer.Dial(p.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	stop := make(chan struct{})
	accepted := load(t, p.URL, 4, stop)
	time.Sleep(1500 * time.Millisecond)
	p.Signal(syscall.SIGTERM)
	// Readiness turns 503 during the drain delay.
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Get("http://" + p.Health + "/_readiness")
	if err != nil {
		t.Fatalf("readiness during drain: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"shutting_down"`) {
		t.Errorf("readiness during drain: %d %s", resp.StatusCode, body)
	}

	var closeCode int
	_ = idle.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, _, err := idle.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				closeCode = ce.Code
			}
			break
		}
	}
	if closeCode != websocket.CloseServiceRestart {
		t.Errorf("idle client close code %d, want 1012", closeCode)
	}
	if code := p.ExitCode(30 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	close(stop)
	ids := accepted()
	if len(ids) == 0 {
		t.Fatal("no event was accepted under load")
	}
	t.Logf("%d events accepted before shutdown", len(ids))

	// The steps appear in the log in spec §9's order.
	want := []string{
		"shutdown: signal received",
		"shutdown: readiness 503, new upgrades refused",
		"shutdown: drain delay over",
		"shutdown: listeners stopped, connections closed with 1012, handlers finished",
		"shutdown: audit queue drained",
		"shutdown: tracer flushed",
		"shutdown: metrics stream closed",
		"shutdown: pools closed",
		"shutdown: complete",
	}
	msgs := p.Messages()
	i := 0
	for _, m := range msgs {
		if i < len(want) && m == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("shutdown steps out of order or missing; matched %d of %d; log: %q", i, len(want), msgs)
	}

	st := openStore(t, schema)
	assertStored(t, st, ids)
	audited := map[string]bool{}
	if err := st.AuditEntries(context.Background(), func(e store.AuditEntry) error {
		audited[e.EventID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !audited[id] {
			t.Fatalf("accepted event %s has no audit entry", id)
		}
	}
	if _, brk, err := audit.Verify(context.Background(), st); err != nil || brk != nil {
		t.Errorf("audit chain after shutdown: %v %+v", err, brk)
	}
}

func TestKill9UnderLoadLosesNothing(t *testing.T) {
	env, _ := pgEnv(t)
	p := startProc(t, env)
	stop := make(chan struct{})
	accepted := load(t, p.URL, 4, stop)
	time.Sleep(1500 * time.Millisecond)
	p.Signal(syscall.SIGKILL)
	p.ExitCode(10 * time.Second)
	close(stop)
	ids := accepted()
	if len(ids) == 0 {
		t.Fatal("no event was accepted under load")
	}
	// Restart on the same database: every accepted event is there.
	p.Restart()
	c := relaytest.Login(t, p.URL, relaytest.NewUser(t))
	for start := 0; start < len(ids); start += 200 {
		batch := ids[start:min(start+200, len(ids))]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := c.QuerySync(ctx, gonostr.Filter{IDs: batch, Limit: len(batch)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(batch) {
			t.Fatalf("after kill -9 and restart, %d of %d accepted events are missing", len(batch)-len(got), len(batch))
		}
	}
}

func TestBadConfigNamesVariable(t *testing.T) {
	cmd := exec.Command(relayBin, "serve")
	cmd.Env = append(os.Environ(), "BUZZ_MAX_CONNECTIONS=lots")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("bad config accepted: %v", err)
	}
	if !strings.Contains(string(out), "BUZZ_MAX_CONNECTIONS") {
		t.Errorf("error does not name the variable: %s", out)
	}
}

func runCmd(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(relayBin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestAllowlistCommands(t *testing.T) {
	env := map[string]string{"BUZZ_DATA_DIR": t.TempDir()}
	u := relaytest.NewUser(t)
	npub, err := nostr.EncodeNpub(u.PK)
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runCmd(t, env, "allowlist", "add", npub); code != 0 {
		t.Fatalf("add npub: %d %s", code, out)
	}
	out, code := runCmd(t, env, "allowlist", "list")
	if code != 0 || !strings.Contains(out, u.PK) {
		t.Errorf("list after add: %d %s", code, out)
	}
	for _, bad := range []string{strings.ToUpper(u.PK), u.PK[:63], "nsec1xyz", "npub1invalid"} {
		out, code := runCmd(t, env, "members", "add", bad)
		if code != 2 || !strings.Contains(out, "64 lowercase hex characters or an npub") {
			t.Errorf("members add %q: %d %s", bad, code, out)
		}
	}
	if out, code := runCmd(t, env, "allowlist", "remove", u.PK); code != 0 {
		t.Fatalf("remove: %d %s", code, out)
	}
	if out, _ := runCmd(t, env, "allowlist", "list"); strings.Contains(out, u.PK) {
		t.Errorf("still listed after remove: %s", out)
	}
	// Each change left an audit entry and the chain verifies.
	out, code = runCmd(t, env, "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain intact: 2 entries") {
		t.Errorf("audit verify: %d %s", code, out)
	}
}

// TestAllowlistEnforced: with the allowlist on, a pubkey that is not on it
// never authenticates, and one that is does.
func TestAllowlistEnforced(t *testing.T) {
	dir := t.TempDir()
	in, out := relaytest.NewUser(t), relaytest.NewUser(t)
	if o, code := runCmd(t, map[string]string{"BUZZ_DATA_DIR": dir}, "allowlist", "add", in.PK); code != 0 {
		t.Fatal(o)
	}
	p := startProc(t, map[string]string{"BUZZ_DATA_DIR": dir, "BUZZ_PUBKEY_ALLOWLIST": "true", "BUZZ_REQUIRE_RELAY_MEMBERSHIP": "true"})
	c := relaytest.Connect(t, p.URL)
	if err := relaytest.Authenticate(c, out); relaytest.OKMessage(err) != "auth-required: verification failed" {
		t.Errorf("non-allowlisted auth: %v", err)
	}
	// Allowlisted but not a relay member: the second check refuses.
	c2 := relaytest.Connect(t, p.URL)
	if err := relaytest.Authenticate(c2, in); relaytest.OKMessage(err) != "restricted: not a relay member" {
		t.Errorf("allowlisted non-member auth: %v", err)
	}
	if o, code := runCmd(t, map[string]string{"BUZZ_DATA_DIR": dir}, "members", "add", in.PK); code != 0 {
		t.Fatal(o)
	}
	c3 := relaytest.Connect(t, p.URL)
	if err := relaytest.Authenticate(c3, in); err != nil {
		t.Errorf("allowlisted member auth: %v", err)
	}
}

// TestStartFailureExits: a port already in use ends the process with an
// error naming the setting, instead of leaving it hanging.
func TestStartFailureExits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(relayBin, "serve")
	cmd.Env = append(os.Environ(), "BUZZ_BIND_ADDR="+ln.Addr().String(), "BUZZ_HEALTH_PORT=0",
		"BUZZ_METRICS_GRPC_ADDR=127.0.0.1:0", "BUZZ_DATA_DIR="+t.TempDir())
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("relay still running 15 s after its listener failed")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(string(out), "BUZZ_BIND_ADDR") {
		t.Errorf("error does not name BUZZ_BIND_ADDR: %s", out)
	}
}
