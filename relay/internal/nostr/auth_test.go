package nostr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testChallenge = "3c0e9b2f5a7d41e6b8c4f1a2d9e0b7c65a4f3e2d1c0b9a8f7e6d5c4b3a291807"

func authEvent(t *testing.T, mutate func(e *Event)) *Event {
	t.Helper()
	sk, err := ParsePrivateKeyHex("b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef")
	if err != nil {
		t.Fatal(err)
	}
	e := &Event{
		CreatedAt: 1700000000,
		Kind:      KindAuth,
		Tags:      [][]string{{"relay", "wss://Relay.Example.com:443/"}, {"challenge", testChallenge}},
	}
	if mutate != nil {
		mutate(e)
	}
	if err := e.Sign(sk); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCheckAuthEvent(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const relay = "wss://relay.example.com"
	if err := CheckAuthEvent(authEvent(t, nil), testChallenge, relay, now); err != nil {
		t.Fatalf("valid AUTH refused: %v", err)
	}
	// Boundaries of the ±60 s window are inclusive.
	for _, d := range []time.Duration{-60 * time.Second, 60 * time.Second, 60*time.Second + 999*time.Millisecond} {
		if err := CheckAuthEvent(authEvent(t, nil), testChallenge, relay, now.Add(d)); err != nil {
			t.Errorf("now%+v: valid AUTH refused: %v", d, err)
		}
	}
	// The relay's own URL is normalised too.
	if err := CheckAuthEvent(authEvent(t, nil), testChallenge, "WSS://relay.example.com/", now); err != nil {
		t.Fatalf("RELAY_URL spelling should not matter: %v", err)
	}
	local := authEvent(t, func(e *Event) { e.Tags[0][1] = "ws://[::1]:3000/" })
	if err := CheckAuthEvent(local, testChallenge, "ws://localhost:3000", now); err != nil {
		t.Fatalf("loopback spellings should match: %v", err)
	}
	// Extra unrelated tags are fine.
	extra := authEvent(t, func(e *Event) { e.Tags = append(e.Tags, []string{"client", "test"}) })
	if err := CheckAuthEvent(extra, testChallenge, relay, now); err != nil {
		t.Fatalf("extra tags refused: %v", err)
	}

	bad := []struct {
		name    string
		ev      *Event
		now     time.Time
		relay   string
		mention string
	}{
		{"wrong kind", authEvent(t, func(e *Event) { e.Kind = 1 }), now, relay, "kind 1"},
		{"kind 22241", authEvent(t, func(e *Event) { e.Kind = 22241 }), now, relay, "kind"},
		{"no challenge tag", authEvent(t, func(e *Event) { e.Tags = e.Tags[:1] }), now, relay, "0 challenge tags"},
		{"two challenge tags", authEvent(t, func(e *Event) { e.Tags = append(e.Tags, []string{"challenge", testChallenge}) }), now, relay, "2 challenge tags"},
		{"challenge tag without value", authEvent(t, func(e *Event) { e.Tags[1] = []string{"challenge"} }), now, relay, "challenge does not match"},
		{"wrong challenge", authEvent(t, func(e *Event) { e.Tags[1][1] = strings.Repeat("0", 64) }), now, relay, "challenge does not match"},
		{"challenge prefix", authEvent(t, func(e *Event) { e.Tags[1][1] = testChallenge[:32] }), now, relay, "challenge does not match"},
		{"no relay tag", authEvent(t, func(e *Event) { e.Tags = e.Tags[1:] }), now, relay, "0 relay tags"},
		{"two relay tags", authEvent(t, func(e *Event) { e.Tags = append(e.Tags, []string{"relay", relay}) }), now, relay, "2 relay tags"},
		{"other relay", authEvent(t, func(e *Event) { e.Tags[0][1] = "wss://evil.example.com" }), now, relay, "does not name this relay"},
		{"other scheme", authEvent(t, func(e *Event) { e.Tags[0][1] = "ws://relay.example.com" }), now, relay, "does not name this relay"},
		{"other path", authEvent(t, func(e *Event) { e.Tags[0][1] = "wss://relay.example.com/x" }), now, relay, "does not name this relay"},
		{"unparsable relay tag", authEvent(t, func(e *Event) { e.Tags[0][1] = "not a url" }), now, relay, "relay tag"},
		{"61 s old", authEvent(t, nil), now.Add(61 * time.Second), relay, "created_at"},
		{"61 s ahead", authEvent(t, nil), now.Add(-61 * time.Second), relay, "created_at"},
		{"far future", authEvent(t, func(e *Event) { e.CreatedAt = 1 << 62 }), now, relay, "created_at"},
		{"misconfigured relay URL", authEvent(t, nil), now, "relay.example.com", "misconfigured"},
		{"bad signature", func() *Event {
			e := authEvent(t, nil)
			e.Sig = strings.Repeat("0", 128)
			return e
		}(), now, relay, "signature"},
		{"bad id", func() *Event {
			e := authEvent(t, nil)
			e.Content = "changed after signing"
			return e
		}(), now, relay, "id"},
		{"nil event", nil, now, relay, "no event"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := CheckAuthEvent(c.ev, testChallenge, c.relay, c.now)
			if !errors.Is(err, ErrAuthInvalid) {
				t.Fatalf("CheckAuthEvent = %v, want ErrAuthInvalid", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
	if err := CheckAuthEvent(authEvent(t, nil), "", relay, now); !errors.Is(err, ErrAuthInvalid) {
		t.Fatalf("empty issued challenge: %v, want ErrAuthInvalid", err)
	}
}
