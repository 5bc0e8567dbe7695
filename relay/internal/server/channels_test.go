package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// publish sends ev and fails the test unless it is accepted.
func publish(t *testing.T, c *gonostr.Relay, ev gonostr.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, ev); err != nil {
		t.Fatalf("publish kind %d: %v", ev.Kind, err)
	}
}

// refused sends ev and checks the exact OK false message.
func refused(t *testing.T, c *gonostr.Relay, ev gonostr.Event, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got := okMessage(c.Publish(ctx, ev)); got != want {
		t.Errorf("kind %d: got %q, want %q", ev.Kind, got, want)
	}
}

func query(t *testing.T, c *gonostr.Relay, f gonostr.Filter) []*gonostr.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := c.QuerySync(ctx, f)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return evs
}

func count(t *testing.T, c *gonostr.Relay, f gonostr.Filter) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, _, err := c.Count(ctx, gonostr.Filters{f})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func createChannel(t *testing.T, c *gonostr.Relay, owner user, visibility string) string {
	t.Helper()
	id := relaytest.NewUUID()
	publish(t, c, owner.Event(t, 9007, "", gonostr.Tag{"h", id}, gonostr.Tag{"name", "team"}, gonostr.Tag{"visibility", visibility}))
	return id
}

func TestChannelWriteRules(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		admin, member, outsider := newUser(t), newUser(t), newUser(t)
		ca, cm, co := r.login(t, admin), r.login(t, member), r.login(t, outsider)

		open := createChannel(t, ca, admin, "open")
		private := createChannel(t, ca, admin, "private")
		refused(t, ca, admin.Event(t, 9007, "", gonostr.Tag{"h", open}, gonostr.Tag{"name", "again"}), "duplicate: channel already exists")

		// Open: anyone may join and post.
		publish(t, co, outsider.Event(t, 9021, "", gonostr.Tag{"h", open}))
		publish(t, co, outsider.Event(t, 9, "hi open", gonostr.Tag{"h", open}))
		// Private: no joining, no posting without membership.
		refused(t, co, outsider.Event(t, 9021, "", gonostr.Tag{"h", private}), "restricted: channel is private")
		refused(t, co, outsider.Event(t, 9, "let me in", gonostr.Tag{"h", private}), "restricted: not a channel member")
		// Only admins manage members.
		refused(t, co, outsider.Event(t, 9000, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", outsider.PK}), "restricted: not a channel admin")
		publish(t, ca, admin.Event(t, 9000, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", member.PK}))
		publish(t, cm, member.Event(t, 9, "inside", gonostr.Tag{"h", private}))
		refused(t, cm, member.Event(t, 9001, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", admin.PK}), "restricted: not a channel admin")
		// After removal, the member can no longer post (immediately, on this node).
		publish(t, ca, admin.Event(t, 9001, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", member.PK}))
		refused(t, cm, member.Event(t, 9, "still here?", gonostr.Tag{"h", private}), "restricted: not a channel member")
		// Leaving an open channel.
		publish(t, co, outsider.Event(t, 9022, "", gonostr.Tag{"h", open}))
	})
}

// TestPrivateChannelIsolation is the adversarial read test: a non-member
// never learns of a private channel's events by any route.
func TestPrivateChannelIsolation(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		admin, member, outsider := newUser(t), newUser(t), newUser(t)
		ca, cm, co := r.login(t, admin), r.login(t, member), r.login(t, outsider)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()

		private := createChannel(t, ca, admin, "private")
		publish(t, ca, admin.Event(t, 9000, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", member.PK}))

		// Live subscriptions of the outsider by every shape.
		liveH, _ := co.Subscribe(ctx, gonostr.Filters{{Tags: gonostr.TagMap{"h": {private}}}})
		liveGlobal, _ := co.Subscribe(ctx, gonostr.Filters{{Kinds: []int{9}}})
		liveAll, _ := co.Subscribe(ctx, gonostr.Filters{{}})
		liveMember, _ := cm.Subscribe(ctx, gonostr.Filters{{Kinds: []int{9}}})
		for _, s := range []*gonostr.Subscription{liveH, liveGlobal, liveAll, liveMember} {
			<-s.EndOfStoredEvents
		}

		secret := admin.Event(t, 9, "secret", gonostr.Tag{"h", private})
		publish(t, ca, secret)
		select {
		case ev := <-liveMember.Events:
			if ev.ID != secret.ID {
				t.Fatalf("member got %s", ev.ID)
			}
		case <-ctx.Done():
			t.Fatal("member did not receive the private event live")
		}
		// A public reply that points at the private event by e tag.
		reply := admin.Event(t, 1, "public note", gonostr.Tag{"e", secret.ID})
		publish(t, ca, reply)

		leaks := func(stage string) {
			t.Helper()
			for name, f := range map[string]gonostr.Filter{
				"#h":     {Tags: gonostr.TagMap{"h": {private}}},
				"global": {Kinds: []int{9}},
				"all":    {},
				"ids":    {IDs: []string{secret.ID}},
				"author": {Authors: []string{admin.PK}, Kinds: []int{9, 9000, 9007}},
				"#e":     {Tags: gonostr.TagMap{"e": {secret.ID}}, Kinds: []int{9}},
			} {
				for _, ev := range query(t, co, f) {
					if ev.Tags.FindWithValue("h", private) != nil {
						t.Errorf("%s: REQ %s returned private event kind %d", stage, name, ev.Kind)
					}
				}
				if n := count(t, co, f); name != "all" && n != 0 {
					t.Errorf("%s: COUNT %s = %d, want 0", stage, name, n)
				}
			}
			for name, s := range map[string]*gonostr.Subscription{"#h": liveH, "global": liveGlobal, "all": liveAll} {
			drain:
				for {
					select {
					case ev := <-s.Events:
						if ev.Tags.FindWithValue("h", private) != nil {
							t.Errorf("%s: live %s delivered private event", stage, name)
						}
					default:
						break drain
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
		leaks("outsider")

		// The member reads everything; then is removed and reads nothing new.
		if n := count(t, cm, gonostr.Filter{Tags: gonostr.TagMap{"h": {private}}}); n < 3 {
			t.Errorf("member COUNT #h = %d, want the 9007, 9000 and 9", n)
		}
		publish(t, ca, admin.Event(t, 9001, "", gonostr.Tag{"h", private}, gonostr.Tag{"p", member.PK}))
		after := admin.Event(t, 9, "after removal", gonostr.Tag{"h", private})
		publish(t, ca, after)
		select {
		case ev := <-liveMember.Events:
			if ev.ID == after.ID {
				t.Error("removed member received a live event")
			}
		case <-time.After(300 * time.Millisecond):
		}
		for _, ev := range query(t, cm, gonostr.Filter{Tags: gonostr.TagMap{"h": {private}}}) {
			if strings.Contains(ev.Content, "secret") || ev.ID == after.ID {
				t.Errorf("removed member still reads %q", ev.Content)
			}
		}
	})
}

func TestCount(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, r *testRelay) {
		alice := newUser(t)
		c := r.login(t, alice)
		for i := 0; i < 5; i++ {
			publish(t, c, alice.Event(t, 1, fmt.Sprint("n", i), gonostr.Tag{"t", "go"}, gonostr.Tag{"topic", "relay"}))
		}
		// Overlapping filters count each event once (go-nostr sends only
		// one filter per COUNT, so this one goes over a raw socket).
		raw := r.raw(t)
		raw.authAs(alice, r)
		raw.send(fmt.Sprintf(`["COUNT","both",{"kinds":[1]},{"authors":[%q]}]`, alice.PK))
		if m := raw.next(); m[0] != "COUNT" || m[2].(map[string]any)["count"] != float64(5) {
			t.Errorf("overlapping filters: %v, want count 5", m)
		}
		raw.send(fmt.Sprintf(`["COUNT","mixed",{"kinds":[1],"#topic":["relay"]},{"authors":[%q]}]`, alice.PK))
		if m := raw.next(); m[0] != "COUNT" || m[2].(map[string]any)["count"] != float64(5) {
			t.Errorf("overlapping fallback filters: %v, want count 5", m)
		}
		// A multi-letter tag uses the bounded fallback.
		if n := count(t, c, gonostr.Filter{Kinds: []int{1}, Tags: gonostr.TagMap{"topic": {"relay"}}}); n != 5 {
			t.Errorf("fallback count = %d, want 5", n)
		}
	})
}

func TestCountFallbackRejection(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	alice := newUser(t)
	c := r.login(t, alice)
	ctx := context.Background()
	// More than 5000 candidates: written straight through the store, which
	// is the same path ingest uses after its checks.
	for i := 0; i < 5001; i++ {
		ev := alice.Event(t, 1, fmt.Sprint(i))
		if err := r.Store.Save(ctx, toEvent(ev), nil); err != nil {
			t.Fatal(err)
		}
	}
	raw := r.raw(t)
	raw.authAs(alice, r)
	raw.send(`["COUNT","broad",{"kinds":[1],"#topic":["x"]}]`)
	raw.expect("broad fallback count", "CLOSED", "restricted: count filter requires narrower constraints")
	// The store-side path counts the same events without limit.
	if n := count(t, c, gonostr.Filter{Kinds: []int{1}}); n != 5001 {
		t.Errorf("store-side count = %d, want 5001", n)
	}
	if got := r.Metrics.CountFallbackRejections.Value(); got != 1 {
		t.Errorf("buzz_count_fallback_rejections_total = %d, want 1", got)
	}
}
