package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// TestReadRuleProperty drives a real relay with random channels,
// memberships, subscriptions and events, over raw sockets so that no client
// library filters what the relay sends. Every delivered or returned event
// must satisfy the read rule, and every accepted event that satisfies a
// subscription's filter and the read rule must be delivered to it live,
// exactly once.
func TestReadRuleProperty(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { readRuleRound(t, seed) })
	}
}

type propChannel struct {
	id      string
	private bool
	members map[string]bool // pubkeys, admin included
}

// canRead is the model of spec §4's read rule.
func canRead(channels map[string]*propChannel, pubkey string, ev *nostr.Event) bool {
	h, ok := ev.Tag("h")
	if !ok {
		return true
	}
	ch := channels[h]
	return ch != nil && (!ch.private || ch.members[pubkey])
}

// liveConn collects the EVENT frames a raw connection receives per sub id.
type liveConn struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	got  map[string][]*nostr.Event
	eose map[string]chan struct{}
}

func openLive(t *testing.T, r *testRelay, u user) *liveConn {
	t.Helper()
	rc, err := relaytest.DialRaw(r.URL, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	lc := &liveConn{ws: rc.WS, got: map[string][]*nostr.Event{}, eose: map[string]chan struct{}{}}
	go func() {
		for {
			_ = lc.ws.SetReadDeadline(time.Time{})
			_, data, err := lc.ws.ReadMessage()
			if err != nil {
				return
			}
			msg, err := parseRelayFrame(data)
			if err != nil {
				t.Errorf("bad frame %q: %v", data, err)
				return
			}
			lc.mu.Lock()
			switch msg.typ {
			case "EVENT":
				lc.got[msg.sub] = append(lc.got[msg.sub], msg.ev)
			case "EOSE":
				if ch := lc.eose[msg.sub]; ch != nil {
					close(ch)
				}
			}
			lc.mu.Unlock()
		}
	}()
	return lc
}

func (lc *liveConn) req(t *testing.T, subID string, f nostr.Filter) {
	t.Helper()
	ch := make(chan struct{})
	lc.mu.Lock()
	lc.eose[subID] = ch
	lc.mu.Unlock()
	b, _ := json.Marshal([]any{"REQ", subID, filterJSON(f)})
	if err := lc.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no EOSE for %s", subID)
	}
	lc.mu.Lock()
	lc.got[subID] = nil // stored results are checked separately
	lc.mu.Unlock()
}

type relayFrame struct {
	typ, sub string
	ev       *nostr.Event
}

func parseRelayFrame(data []byte) (relayFrame, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil || len(parts) < 2 {
		return relayFrame{}, fmt.Errorf("not an array")
	}
	var f relayFrame
	_ = json.Unmarshal(parts[0], &f.typ)
	_ = json.Unmarshal(parts[1], &f.sub)
	if f.typ == "EVENT" && len(parts) == 3 {
		ev, err := nostr.ParseEvent(parts[2])
		if err != nil {
			return f, err
		}
		f.ev = ev
	}
	return f, nil
}

func filterJSON(f nostr.Filter) map[string]any {
	m := map[string]any{}
	if f.Kinds != nil {
		m["kinds"] = f.Kinds
	}
	if f.Authors != nil {
		m["authors"] = f.Authors
	}
	for k, v := range f.Tags {
		m["#"+k] = v
	}
	return m
}

func readRuleRound(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	r := startRelay(t, "sqlite", nil)
	const nUsers, nChannels, nSubs, nEvents = 4, 4, 4, 40
	users := make([]user, nUsers)
	pubs := make([]*relaytest.RawClient, nUsers)
	for i := range users {
		users[i] = newUser(t)
		c, err := relaytest.DialRaw(r.URL, users[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		pubs[i] = c
	}
	mustPublish := func(i int, ev gonostr.Event) bool {
		t.Helper()
		ok, msg, err := pubs[i].Publish(ev)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		_ = msg
		return ok
	}

	// Channels with random visibility and random members.
	channels := map[string]*propChannel{}
	var ids []string
	for i := 0; i < nChannels; i++ {
		owner := rng.IntN(nUsers)
		ch := &propChannel{id: relaytest.NewUUID(), private: rng.IntN(2) == 0, members: map[string]bool{users[owner].PK: true}}
		vis := "open"
		if ch.private {
			vis = "private"
		}
		if !mustPublish(owner, users[owner].Event(t, 9007, "", gonostr.Tag{"h", ch.id}, gonostr.Tag{"name", "c"}, gonostr.Tag{"visibility", vis})) {
			t.Fatal("channel create refused")
		}
		for j := range users {
			if j != owner && rng.IntN(2) == 0 {
				if !mustPublish(owner, users[owner].Event(t, 9000, "", gonostr.Tag{"h", ch.id}, gonostr.Tag{"p", users[j].PK})) {
					t.Fatal("add member refused")
				}
				ch.members[users[j].PK] = true
			}
		}
		channels[ch.id] = ch
		ids = append(ids, ch.id)
	}

	// Random live subscriptions.
	type subscription struct {
		user   int
		id     string
		filter nostr.Filter
		conn   *liveConn
	}
	var subs []subscription
	for i := range users {
		lc := openLive(t, r, users[i])
		for s := 0; s < nSubs; s++ {
			var f nostr.Filter
			switch rng.IntN(5) {
			case 0:
				f.Kinds = []int{9}
			case 1:
				f.Tags = map[string][]string{"h": {ids[rng.IntN(len(ids))]}}
			case 2:
				f.Kinds = []int{9}
				f.Tags = map[string][]string{"h": {ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]}}
			case 3:
				f.Authors = []string{users[rng.IntN(nUsers)].PK}
			case 4: // everything
			}
			sub := subscription{user: i, id: fmt.Sprint("s", s), filter: f, conn: lc}
			lc.req(t, sub.id, f)
			subs = append(subs, sub)
		}
	}

	// Random events: chat in a random channel (accepted or refused by the
	// write rule) and public notes.
	var accepted []*nostr.Event
	for e := 0; e < nEvents; e++ {
		author := rng.IntN(nUsers)
		var ev gonostr.Event
		if rng.IntN(3) == 0 {
			ev = users[author].Event(t, 1, fmt.Sprint("note ", e))
		} else {
			ev = users[author].Event(t, 9, fmt.Sprint("chat ", e), gonostr.Tag{"h", ids[rng.IntN(len(ids))]})
		}
		mayWrite := canRead(channels, users[author].PK, toEvent(ev))
		if ok := mustPublish(author, ev); ok != mayWrite {
			t.Fatalf("event %d by user %d: accepted=%v, model says %v", e, author, ok, mayWrite)
		}
		if mayWrite {
			accepted = append(accepted, toEvent(ev))
		}
	}
	time.Sleep(300 * time.Millisecond)

	for _, s := range subs {
		pk := users[s.user].PK
		var want []string
		for _, ev := range accepted {
			if s.filter.Matches(ev) && canRead(channels, pk, ev) {
				want = append(want, ev.ID)
			}
		}
		s.conn.mu.Lock()
		var got []string
		for _, ev := range s.conn.got[s.id] {
			if !canRead(channels, pk, ev) {
				t.Errorf("user %d sub %s: delivered unreadable event %s", s.user, s.id, ev.ID)
			}
			got = append(got, ev.ID)
		}
		s.conn.mu.Unlock()
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("user %d sub %s %+v: live delivered %d events, model expects %d", s.user, s.id, s.filter, len(got), len(want))
		}
	}

	// Stored reads: everything a user can query satisfies the read rule,
	// and nothing readable is missing.
	for i, u := range users {
		c := r.login(t, u)
		got := query(t, c, gonostr.Filter{Kinds: []int{1, 9}})
		readable := 0
		for _, ev := range accepted {
			if canRead(channels, u.PK, ev) {
				readable++
			}
		}
		for _, ev := range got {
			if !canRead(channels, u.PK, toEvent(*ev)) {
				t.Errorf("user %d: REQ returned unreadable event %s", i, ev.ID)
			}
		}
		if len(got) != readable {
			t.Errorf("user %d: REQ returned %d events, model says %d readable", i, len(got), readable)
		}
	}
}
