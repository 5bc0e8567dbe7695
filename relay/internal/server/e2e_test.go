package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"
)

// forEachStore runs fn against a fresh relay on every store kind.
func forEachStore(t *testing.T, env map[string]string, fn func(t *testing.T, r *testRelay)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, startRelay(t, kind, env))
		})
	}
}

func TestNIP11(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	for _, tc := range []struct{ path, accept string }{{"/", "application/nostr+json"}, {"/info", ""}} {
		req, _ := http.NewRequest("GET", "http://"+r.Addr()+tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header", tc.path)
		}
		nips, _ := doc["supported_nips"].([]any)
		want := map[float64]bool{1: true, 9: true, 11: true, 29: true, 42: true, 45: true}
		for _, n := range nips {
			delete(want, n.(float64))
		}
		if len(want) != 0 {
			t.Errorf("%s: supported_nips %v misses %v", tc.path, nips, want)
		}
		lim, _ := doc["limitation"].(map[string]any)
		for _, k := range []string{"max_message_length", "max_subscriptions", "max_limit", "max_subid_length",
			"max_content_length", "default_limit", "created_at_lower_limit", "created_at_upper_limit", "max_filters"} {
			if _, ok := lim[k]; !ok {
				t.Errorf("%s: limitation.%s missing", tc.path, k)
			}
		}
		// The advertised limits are the ones enforced (spec §2 and §5; the
		// frame size and the created_at window are the defaults).
		for k, want := range map[string]float64{"max_message_length": 524288, "max_subscriptions": 1024,
			"max_limit": 1000, "max_subid_length": 256, "max_content_length": 262144, "default_limit": 1000,
			"created_at_lower_limit": 900, "created_at_upper_limit": 900, "max_filters": 10} {
			if got, _ := lim[k].(float64); got != want {
				t.Errorf("%s: limitation.%s = %v, want %v", tc.path, k, lim[k], want)
			}
		}
		if lim["auth_required"] != true || lim["restricted_writes"] != true {
			t.Errorf("%s: auth_required/restricted_writes not true: %v", tc.path, lim)
		}
		if pk, _ := doc["pubkey"].(string); len(pk) != 64 {
			t.Errorf("%s: pubkey %q", tc.path, pk)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	for _, p := range []string{"/_liveness", "/_readiness"} {
		resp, err := http.Get("http://" + r.HealthAddr() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestAuthFlow(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		alice, bob := newUser(t), newUser(t)
		c := r.connect(t)
		ctx := context.Background()

		// Before AUTH: EVENT is refused, REQ and COUNT are CLOSED.
		err := c.Publish(ctx, alice.Event(t, 1, "too early"))
		if !strings.HasPrefix(okMessage(err), "auth-required:") {
			t.Fatalf("publish before auth: %v", err)
		}
		sub, err := c.Subscribe(ctx, gonostr.Filters{{Kinds: []int{1}}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case reason := <-sub.ClosedReason:
			if !strings.HasPrefix(reason, "auth-required:") {
				t.Errorf("REQ before auth closed with %q", reason)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("REQ before auth: no CLOSED")
		}

		if err := authenticate(c, alice); err != nil {
			t.Fatalf("auth: %v", err)
		}
		if err := authenticate(c, alice); !strings.Contains(okMessage(err), "already authenticated") {
			t.Errorf("second auth: %v", err)
		}
		// After AUTH, events must be the authenticated pubkey's own.
		err = c.Publish(ctx, bob.Event(t, 1, "impersonation"))
		if okMessage(err) != "invalid: event pubkey does not match authenticated identity" {
			t.Errorf("impersonation: %v", err)
		}
		if err := c.Publish(ctx, alice.Event(t, 1, "hello")); err != nil {
			t.Errorf("publish after auth: %v", err)
		}
	})
}

func TestAuthRejections(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	alice := newUser(t)
	ctx := context.Background()

	// Wrong relay tag: verification fails, and the connection stays failed.
	c := r.connect(t)
	time.Sleep(100 * time.Millisecond) // let the challenge arrive
	err := c.Auth(ctx, func(ev *gonostr.Event) error {
		for i, tag := range ev.Tags {
			if tag[0] == "relay" {
				ev.Tags[i] = gonostr.Tag{"relay", "wss://elsewhere.example"}
			}
		}
		return ev.Sign(alice.SK)
	})
	if okMessage(err) != "auth-required: verification failed" {
		t.Errorf("wrong relay tag: %v", err)
	}
	if err := authenticate(c, alice); okMessage(err) != "auth-required: authentication already failed" {
		t.Errorf("auth after failure: %v", err)
	}

	// Stale created_at.
	c2 := r.connect(t)
	time.Sleep(100 * time.Millisecond)
	err = c2.Auth(ctx, func(ev *gonostr.Event) error {
		ev.CreatedAt -= 120
		return ev.Sign(alice.SK)
	})
	if okMessage(err) != "auth-required: verification failed" {
		t.Errorf("stale auth: %v", err)
	}
}

func TestPublishQuerySubscribe(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		alice, bob := newUser(t), newUser(t)
		ca, cb := r.login(t, alice), r.login(t, bob)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		// Bob subscribes live to kind 1 before anything exists.
		sub, err := cb.Subscribe(ctx, gonostr.Filters{{Kinds: []int{1}, Authors: []string{alice.PK}}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-sub.EndOfStoredEvents:
		case <-ctx.Done():
			t.Fatal("no EOSE")
		}

		first := alice.Event(t, 1, "first")
		if err := ca.Publish(ctx, first); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-sub.Events:
			if got.ID != first.ID {
				t.Errorf("live event %s, want %s", got.ID, first.ID)
			}
		case <-ctx.Done():
			t.Fatal("live event not delivered")
		}
		// A duplicate is OK true.
		if err := ca.Publish(ctx, first); err != nil {
			t.Errorf("duplicate: %v", err)
		}

		second := alice.Event(t, 1, "second")
		second.CreatedAt++
		_ = second.Sign(alice.SK)
		if err := ca.Publish(ctx, second); err != nil {
			t.Fatal(err)
		}
		events, err := cb.QuerySync(ctx, gonostr.Filter{Authors: []string{alice.PK}})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || events[0].ID != second.ID || events[1].ID != first.ID {
			t.Fatalf("query returned %d events, want newest first", len(events))
		}
		n, _, err := cb.Count(ctx, gonostr.Filters{{Authors: []string{alice.PK}}})
		if err != nil || n != 2 {
			t.Errorf("count %d, %v; want 2", n, err)
		}

		// After CLOSE the subscription receives nothing more.
		sub.Unsub()
		time.Sleep(100 * time.Millisecond)
		third := alice.Event(t, 1, "third")
		if err := ca.Publish(ctx, third); err != nil {
			t.Fatal(err)
		}
		select {
		case ev, ok := <-sub.Events:
			if ok && ev != nil {
				t.Errorf("event after CLOSE: %s", ev.Content)
			}
		case <-time.After(300 * time.Millisecond):
		}
	})
}

func TestEventRejections(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		alice := newUser(t)
		c := r.login(t, alice)
		ctx := context.Background()

		old := alice.Event(t, 1, "old")
		old.CreatedAt -= 3600
		_ = old.Sign(alice.SK)
		future := alice.Event(t, 1, "future")
		future.CreatedAt += 3600
		_ = future.Sign(alice.SK)
		badSig := alice.Event(t, 1, "bad sig")
		badSig.Sig = strings.Repeat("0", 128)
		badID := alice.Event(t, 1, "bad id")
		badID.Content = "changed"
		big := alice.Event(t, 1, strings.Repeat("x", 262145))
		auth := alice.Event(t, 22242, "")

		cases := []struct {
			name string
			ev   gonostr.Event
			want string
		}{
			{"old", old, "invalid: created_at is too far in the past"},
			{"future", future, "invalid: created_at is too far in the future"},
			{"bad signature", badSig, "invalid: signature verification failed"},
			{"bad id", badID, "invalid: event id does not match its content"},
			{"content too long", big, "invalid: content is longer than 262144 bytes"},
			{"auth kind", auth, "invalid: auth events are not accepted here"},
			{"unknown channel", alice.Event(t, 1, "x", gonostr.Tag{"h", "00000000-0000-4000-8000-000000000000"}), "invalid: unknown channel"},
			{"channel kind without h", alice.Event(t, 9, "chat"), "invalid: channel-scoped events must include an h tag"},
		}
		for _, tc := range cases {
			err := c.Publish(ctx, tc.ev)
			if okMessage(err) != tc.want {
				t.Errorf("%s: got %q, want %q", tc.name, okMessage(err), tc.want)
			}
		}
		// None of them was stored.
		events, err := c.QuerySync(ctx, gonostr.Filter{Authors: []string{alice.PK}})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 0 {
			t.Errorf("%d rejected events were stored", len(events))
		}
	})
}

func TestKindSemantics(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		alice := newUser(t)
		c := r.login(t, alice)
		ctx := context.Background()
		at := func(kind int, content string, delta int64, tags ...gonostr.Tag) gonostr.Event {
			ev := alice.Event(t, kind, content, tags...)
			ev.CreatedAt += gonostr.Timestamp(delta)
			_ = ev.Sign(alice.SK)
			return ev
		}
		// Replaceable: the newest wins; an older one is refused.
		if err := c.Publish(ctx, at(0, "v1", -10)); err != nil {
			t.Fatal(err)
		}
		v2 := at(0, "v2", 0)
		if err := c.Publish(ctx, v2); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, at(0, "v0", -20)); !strings.HasPrefix(okMessage(err), "duplicate:") {
			t.Errorf("older replaceable: %v", err)
		}
		got, _ := c.QuerySync(ctx, gonostr.Filter{Kinds: []int{0}, Authors: []string{alice.PK}})
		if len(got) != 1 || got[0].ID != v2.ID {
			t.Errorf("replaceable: got %d events", len(got))
		}
		// Addressable: newest per d tag.
		if err := c.Publish(ctx, at(30023, "a1", -5, gonostr.Tag{"d", "post"})); err != nil {
			t.Fatal(err)
		}
		a2 := at(30023, "a2", 0, gonostr.Tag{"d", "post"})
		other := at(30023, "other", 0, gonostr.Tag{"d", "other"})
		for _, ev := range []gonostr.Event{a2, other} {
			if err := c.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		got, _ = c.QuerySync(ctx, gonostr.Filter{Kinds: []int{30023}, Authors: []string{alice.PK}})
		if len(got) != 2 {
			t.Errorf("addressable: got %d events, want 2", len(got))
		}
		// Ephemeral: accepted, never stored.
		if err := c.Publish(ctx, at(20001, "blink", 0)); err != nil {
			t.Errorf("ephemeral: %v", err)
		}
		got, _ = c.QuerySync(ctx, gonostr.Filter{Kinds: []int{20001}})
		if len(got) != 0 {
			t.Errorf("ephemeral stored: %d", len(got))
		}
		// Deletion: the author's own event disappears and cannot come back.
		note := at(1, "regret", -1)
		if err := c.Publish(ctx, note); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, at(5, "", 0, gonostr.Tag{"e", note.ID})); err != nil {
			t.Fatal(err)
		}
		got, _ = c.QuerySync(ctx, gonostr.Filter{IDs: []string{note.ID}})
		if len(got) != 0 {
			t.Errorf("deleted event returned")
		}
		if err := c.Publish(ctx, note); err == nil {
			t.Errorf("deleted event accepted again")
		}
	})
}

// TestStoredThenEOSEThenLive: while events are being published, every REQ
// gets its stored results, then EOSE, then live events, and no event twice.
func TestStoredThenEOSEThenLive(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	alice := newUser(t)
	pub := r.login(t, alice)
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ev := alice.Event(t, 1, fmt.Sprint("busy ", i))
			ev.CreatedAt -= gonostr.Timestamp(i % 50) // stored order differs from arrival order
			_ = ev.Sign(alice.SK)
			if pub.Publish(t.Context(), ev) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-published }()

	c := r.raw(t)
	c.authAs(alice, r)
	// One reader: a gorilla connection cannot be read again after a read
	// deadline expires, so the waits below are on a channel instead.
	frames := make(chan []any, 1024)
	go func() {
		defer close(frames)
		for {
			_, data, err := c.WS.ReadMessage()
			if err != nil {
				return
			}
			var m []any
			if json.Unmarshal(data, &m) == nil && len(m) >= 2 {
				frames <- m
			}
		}
	}()
	for n := 0; n < 30; n++ {
		sub := fmt.Sprint("s", n)
		c.send(`["REQ","` + sub + `",{"kinds":[1],"limit":5}]`)
		seen := map[string]bool{}
		stored, eose := 0, false
		var last float64 = 1 << 62
		timeout := time.After(10 * time.Second)
		var live <-chan time.Time // fires 150 ms after EOSE
	collect:
		for {
			var m []any
			select {
			case m = <-frames:
				if m == nil {
					t.Fatalf("%s: connection closed", sub)
				}
			case <-timeout:
				t.Fatalf("%s: no EOSE", sub)
			case <-live:
				break collect
			}
			switch {
			case m[0] == "EOSE" && m[1] == sub:
				eose = true
				live = time.After(150 * time.Millisecond)
			case m[0] == "EVENT" && m[1] == sub:
				ev := m[2].(map[string]any)
				id := ev["id"].(string)
				if seen[id] {
					t.Errorf("%s: event %s delivered twice", sub, id)
				}
				seen[id] = true
				if !eose {
					stored++
					at := ev["created_at"].(float64)
					if at > last {
						t.Errorf("%s: before EOSE, an event out of stored order (a live event?)", sub)
					}
					last = at
				}
			}
		}
		if stored > 5 {
			t.Errorf("%s: %d events before EOSE with limit 5", sub, stored)
		}
		c.send(`["CLOSE","` + sub + `"]`)
	}
}
