package systemtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/store/sqlite"
)

// TestGoldenExposition drives every wired code path of a real relay
// process, then judges the real sidecar's /metrics as Prometheus parses it:
// every family against the catalog (names, types, label names, le strings),
// a non-zero sample wherever the traffic reached, exact values where the
// traffic fixes them, and nothing that is not the relay's.
func TestGoldenExposition(t *testing.T) {
	r := startRelay(t, map[string]string{
		"BUZZ_AUTH_TIMEOUT_SECS":       "2",
		"BUZZ_SEND_BUFFER":             "8",
		"BUZZ_SLOW_CLIENT_GRACE_LIMIT": "3",
		"BUZZ_AUDIT_QUEUE_WAIT_MS":     "1",
	})
	sc := startSidecar(t, r.MetricsGRPC)
	conns := 0 // WebSocket connections opened, for buzz_ws_connections_total
	auths := 0 // AUTH messages sent, for buzz_auth_attempts_total

	// HTTP API: one request with a valid caller, one with an invalid one.
	infoGet(t, r.HTTP+"/info", "golden-test")
	infoGet(t, r.HTTP+"/info", "not a valid caller!")

	// Unauthenticated connections: one answers the challenge wrongly and
	// then tries to publish; one stays silent. Both hit the auth window.
	bad, _ := dialUnauth(t, r.URL)
	idle, _ := dialUnauth(t, r.URL)
	conns += 2
	alice, bob, carol := relaytest.NewUser(t), relaytest.NewUser(t), relaytest.NewUser(t)
	wrong := alice.Event(t, 22242, "", gonostr.Tag{"relay", r.URL}, gonostr.Tag{"challenge", "not-the-challenge"})
	auths++
	if ok, msg := sendExpectOK(t, bad, "AUTH", wrong); ok || msg != "auth-required: verification failed" {
		t.Errorf("wrong challenge: OK %v %q", ok, msg)
	}
	if ok, msg := sendExpectOK(t, bad, "EVENT", alice.Event(t, 1, "before auth")); ok || !strings.HasPrefix(msg, "auth-required:") {
		t.Errorf("event before auth: OK %v %q", ok, msg)
	}

	// Authenticated users. The clients are plain WebSocket connections
	// speaking NIP-01 with events signed by go-nostr, independent of the
	// relay's own code (go-nostr's Relay type has data races of its own).
	ca, cb := relaytest.MustDialRaw(t, r.URL, alice), relaytest.MustDialRaw(t, r.URL, bob)
	conns, auths = conns+2, auths+2
	publishOK(t, ca, alice.Event(t, 1, "hello"))
	note := alice.Event(t, 1, "to react to")
	publishOK(t, ca, note)
	publishOK(t, ca, alice.Event(t, 7, "+", gonostr.Tag{"e", note.ID}, gonostr.Tag{"p", alice.PK}))
	publishOK(t, ca, alice.Event(t, 1111, "a kind outside the allow-list"))
	publishOK(t, ca, alice.Event(t, 20001, "ephemeral"))
	tampered := alice.Event(t, 1, "signed")
	tampered.Content = "tampered after signing"
	if msg := publishErr(t, ca, tampered); !strings.HasPrefix(msg, "invalid:") {
		t.Errorf("tampered event: %q, want invalid:", msg)
	}

	// A private channel: alice's two posts consult the membership cache
	// (miss, then hit); bob is refused; each user's second read of the
	// channel finds the accessible-channels cache warm.
	ch := relaytest.NewUUID()
	publishOK(t, ca, alice.Event(t, 9007, "", gonostr.Tag{"h", ch}, gonostr.Tag{"name", "golden"}, gonostr.Tag{"visibility", "private"}))
	publishOK(t, ca, alice.Event(t, 9, "first", gonostr.Tag{"h", ch}))
	publishOK(t, ca, alice.Event(t, 9, "second", gonostr.Tag{"h", ch}))
	if msg := publishErr(t, cb, bob.Event(t, 9, "intruder", gonostr.Tag{"h", ch})); !strings.HasPrefix(msg, "restricted:") {
		t.Errorf("non-member post to a private channel: %q, want restricted:", msg)
	}
	channelFilter := `{"kinds":[9],"#h":["` + ch + `"]}`
	for range 2 {
		if got := query(t, ca, channelFilter); got != 2 {
			t.Errorf("member read of the private channel: %d events, want 2", got)
		}
		if got := query(t, cb, channelFilter); got != 0 {
			t.Errorf("non-member read of the private channel: %d events, want 0", got)
		}
	}

	// A live subscription (alice's second connection) stays open for
	// buzz_subscriptions_active and receives alice's next note: a fan-out
	// with one recipient.
	live := relaytest.MustDialRaw(t, r.URL, alice)
	conns, auths = conns+1, auths+1
	if got := subscribe(t, live, "live", `{"kinds":[1],"authors":["`+alice.PK+`"],"#t":["live"]}`); got != 0 {
		t.Errorf("live subscription: %d stored events, want 0", got)
	}
	fanned := alice.Event(t, 1, "fanned out", gonostr.Tag{"t", "live"})
	publishOK(t, ca, fanned)
	if m, err := live.Next(5 * time.Second); err != nil || len(m) != 3 || m[0] != "EVENT" || m[1] != "live" {
		t.Errorf("live subscription: got %v %v, want the fanned-out event", m, err)
	} else if ev, _ := m[2].(map[string]any); ev["id"] != fanned.ID {
		t.Errorf("live subscription got %v, want %s", ev["id"], fanned.ID)
	}
	if got := rawCount(t, ca, `{"kinds":[1],"authors":["`+alice.PK+`"]}`); got[0] != "COUNT" || fmt.Sprint(got[2]) != "map[count:3]" {
		t.Errorf("COUNT of alice's notes: %v, want 3", got)
	}

	// A client that stops reading is disconnected for backpressure.
	slowClient(t, r.URL, relaytest.NewUser(t))
	conns, auths = conns+1, auths+1
	cc := relaytest.MustDialRaw(t, r.URL, carol)
	conns, auths = conns+1, auths+1
	big := strings.Repeat("z", 50_000)
	for i := range 300 {
		if ok, msg, err := cc.Publish(carol.Event(t, 20001, fmt.Sprintf("%d %s", i, big))); err != nil || !ok {
			t.Fatalf("large ephemeral event %d: %v %q %v", i, ok, msg, err)
		}
	}

	// Audit: wait until entries have been written, then make the store
	// refuse audit writes (a trigger, from outside the relay) so the writer
	// fails, its queue fills and further entries are refused.
	sc.waitScrape("audit writes", func(s *scrape) bool { v, _ := s.value("buzz_audit_log_seconds"); return v > 0 })
	failAudit(t, r.DataDir)

	// Bulk: more notes than a fallback COUNT may scan.
	const publishers, per = 8, 626
	bulk := newLoad(t, r.URL, publishers)
	conns, auths = conns+publishers, auths+publishers
	res := bulk.publish(t, bulk.sign(t, 1, per, "bulk"))
	if res.accepted != publishers*per {
		t.Fatalf("bulk: %d of %d accepted", res.accepted, publishers*per)
	}
	t.Logf("bulk: %d events in %v (%.0f/s)", res.accepted, res.elapsed.Round(time.Millisecond), res.rate())
	// "#ab" is not a single-letter tag, so the count falls back to scanning
	// the kind-1 candidates, of which there are more than 5000.
	if got := rawCount(t, cc, `{"kinds":[1],"#ab":["x"]}`); got[0] != "CLOSED" || !strings.HasPrefix(fmt.Sprint(got[2]), "restricted:") {
		t.Errorf("broad fallback COUNT: %v, want CLOSED restricted:", got)
	}
	if got := rawCount(t, cc, `{"kinds":[1],"#ab":["x"],"authors":["`+alice.PK+`"]}`); got[0] != "COUNT" {
		t.Errorf("narrow fallback COUNT: %v, want COUNT", got)
	}

	expectClosed(t, bad, websocket.ClosePolicyViolation)
	expectClosed(t, idle, websocket.ClosePolicyViolation)

	exact := map[string]float64{
		"http_requests_total{action=/info,caller=golden-test,code=200}": 1,
		"http_requests_total{action=/info,caller=unknown,code=200}":     1,
		"http_request_latency_ms{action=/info,caller=unknown,code=200}": 1,
		"buzz_ws_connections_total{}":                                   float64(conns),
		"buzz_ws_auth_timeouts_total{}":                                 2,
		"buzz_ws_backpressure_disconnects_total{}":                      1,
		"buzz_auth_attempts_total{method=nip42}":                        float64(auths),
		"buzz_auth_failures_total{reason=nip42_invalid}":                1,
		"buzz_auth_failures_total{reason=allowlist_denied}":             0,
		"buzz_auth_failures_total{reason=not_relay_member}":             0,
		"buzz_events_rejected_total{reason=auth_required}":              1,
		"buzz_events_rejected_total{reason=invalid}":                    1,
		"buzz_events_rejected_total{reason=restricted}":                 1,
		"buzz_events_received_total{kind=other}":                        1,
		"buzz_events_received_total{kind=7}":                            1,
		"buzz_events_received_total{kind=9007}":                         1,
		"buzz_events_received_total{kind=9}":                            3,
		"buzz_events_received_total{kind=20001}":                        301,
		"buzz_events_received_total{kind=1}":                            float64(5 + publishers*per), // 3 stored, 1 before auth, 1 tampered
		"buzz_events_stored_total{kind=1}":                              float64(3 + publishers*per),
		"buzz_events_stored_total{kind=other}":                          1,
		"buzz_events_stored_total{kind=9}":                              2,
		"buzz_count_fallback_rejections_total{}":                        1,
		"buzz_subscriptions_active{}":                                   1,
		"buzz_redis_pool_size{}":                                        -1, // -1: absent
		"buzz_media_uploads_total{}":                                    -1,
		"buzz_workflow_runs_total{}":                                    -1,
		"buzz_events_stored_total{kind=20001}":                          -1, // ephemeral: never stored
	}
	final := sc.settle(func(s *scrape) bool {
		for _, c := range catalog {
			if c.want == nonZero && s.total(c.name) == 0 {
				return false
			}
		}
		for key, want := range exact {
			if got, _ := lookup(s, key); got != want {
				return false
			}
		}
		return true
	})
	for key, want := range exact {
		if got, _ := lookup(final, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	checkCatalog(t, final)
	checkContentType(t, sc)
	if code := sc.ready(); code != http.StatusOK {
		t.Errorf("/readyz with the relay connected: %d", code)
	}
}

// lookup reads "name{k=v,...}" from a scrape; absent is -1.
func lookup(s *scrape, key string) (float64, bool) {
	name, labels, _ := strings.Cut(strings.TrimSuffix(key, "}"), "{")
	var pairs []string
	if labels != "" {
		pairs = strings.Split(labels, ",")
	}
	v, ok := s.value(name, pairs...)
	if !ok {
		return -1, false
	}
	return v, true
}

// failAudit makes every later audit write of the relay's embedded store
// fail, as a broken audit table would: a trigger created from outside the
// relay process.
func failAudit(t *testing.T, dataDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.DB().ExecContext(ctx, `CREATE TRIGGER systemtest_fail_audit BEFORE INSERT ON audit_log
		BEGIN SELECT RAISE(ABORT, 'systemtest: audit write failure injected'); END`); err != nil {
		t.Fatal(err)
	}
}
