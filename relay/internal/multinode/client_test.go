package multinode

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// client is an authenticated WebSocket that records every EVENT frame by
// subscription id, so tests can count copies exactly.
type client struct {
	t  testing.TB
	u  relaytest.User
	ws *websocket.Conn

	wmu sync.Mutex // one writer at a time

	mu     sync.Mutex
	got    map[string][]string // sub id → contents, in arrival order
	ids    map[string][]string // sub id → event ids
	eose   map[string]chan struct{}
	oks    map[string]chan okReply
	onRecv func(sub string, ev gonostr.Event) // optional, called from the reader
	closed chan struct{}
}

type okReply struct {
	ok  bool
	msg string
}

// dial connects to url and authenticates as u.
func dial(t testing.TB, url string, u relaytest.User) *client {
	t.Helper()
	raw, err := relaytest.DialRaw(url, u)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &client{t: t, u: u, ws: raw.WS, got: map[string][]string{}, ids: map[string][]string{},
		eose: map[string]chan struct{}{}, oks: map[string]chan okReply{}, closed: make(chan struct{})}
	_ = c.ws.SetReadDeadline(time.Time{})
	go c.read()
	t.Cleanup(func() { _ = c.ws.Close(); <-c.closed })
	return c
}

func (c *client) read() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m []json.RawMessage
		if json.Unmarshal(data, &m) != nil || len(m) < 2 {
			continue
		}
		var typ, id string
		_ = json.Unmarshal(m[0], &typ)
		_ = json.Unmarshal(m[1], &id)
		switch typ {
		case "EVENT":
			var ev gonostr.Event
			if len(m) < 3 || json.Unmarshal(m[2], &ev) != nil {
				continue
			}
			c.mu.Lock()
			c.got[id] = append(c.got[id], ev.Content)
			c.ids[id] = append(c.ids[id], ev.ID)
			f := c.onRecv
			c.mu.Unlock()
			if f != nil {
				f(id, ev)
			}
		case "EOSE", "CLOSED":
			c.mu.Lock()
			if ch := c.eose[id]; ch != nil {
				close(ch)
				delete(c.eose, id)
			}
			c.mu.Unlock()
		case "OK":
			var ok bool
			var msg string
			if len(m) >= 4 {
				_ = json.Unmarshal(m[2], &ok)
				_ = json.Unmarshal(m[3], &msg)
			}
			c.mu.Lock()
			ch := c.oks[id]
			delete(c.oks, id)
			c.mu.Unlock()
			if ch != nil {
				ch <- okReply{ok, msg}
			}
		}
	}
}

func (c *client) write(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// req opens subscription id with filters and waits for its EOSE.
func (c *client) req(id string, filters ...map[string]any) {
	c.t.Helper()
	ch := make(chan struct{})
	c.mu.Lock()
	c.eose[id] = ch
	c.mu.Unlock()
	msg := []any{"REQ", id}
	for _, f := range filters {
		msg = append(msg, f)
	}
	c.write(msg)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no EOSE for %s", id)
	}
}

// unsub closes subscription id.
func (c *client) unsub(id string) { c.write([]any{"CLOSE", id}) }

// send publishes ev without waiting for the OK; the returned channel gets it.
func (c *client) send(ev gonostr.Event) <-chan okReply {
	ch := make(chan okReply, 1)
	c.mu.Lock()
	c.oks[ev.ID] = ch
	c.mu.Unlock()
	c.write([]any{"EVENT", ev})
	return ch
}

// publish sends ev and fails unless it is accepted within the timeout.
func (c *client) publish(ev gonostr.Event) {
	c.t.Helper()
	select {
	case r := <-c.send(ev):
		if !r.ok {
			c.t.Fatalf("kind %d refused: %s", ev.Kind, r.msg)
		}
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no OK for kind %d", ev.Kind)
	}
}

// post publishes a kind 9 message with content in channel.
func (c *client) post(channel, content string) {
	c.t.Helper()
	c.publish(c.u.Event(c.t, 9, content, gonostr.Tag{"h", channel}))
}

// contents returns the non-empty contents subscription id has received
// (channel administration events have empty content and are left out).
func (c *client) contents(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.got[id] {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// copies counts how often subscription id received content.
func (c *client) copies(id, content string) int {
	n := 0
	for _, s := range c.contents(id) {
		if s == content {
			n++
		}
	}
	return n
}

// await waits until subscription id has received content.
func (c *client) await(id, content string) {
	c.t.Helper()
	relaytest.WaitFor(c.t, 10*time.Second, fmt.Sprintf("%q on %s", content, id), func() bool { return c.copies(id, content) > 0 })
}

// createChannel creates a channel with the given visibility and returns its id.
func (c *client) createChannel(visibility string) string {
	c.t.Helper()
	id := relaytest.NewUUID()
	c.publish(c.u.Event(c.t, 9007, "", gonostr.Tag{"h", id}, gonostr.Tag{"name", "team"}, gonostr.Tag{"visibility", visibility}))
	return id
}

// addMember adds pk to channel (the client must be its admin).
func (c *client) addMember(channel, pk string) {
	c.t.Helper()
	c.publish(c.u.Event(c.t, 9000, "", gonostr.Tag{"h", channel}, gonostr.Tag{"p", pk}))
}

// removeMember removes pk from channel.
func (c *client) removeMember(channel, pk string) {
	c.t.Helper()
	c.publish(c.u.Event(c.t, 9001, "", gonostr.Tag{"h", channel}, gonostr.Tag{"p", pk}))
}

func channelFilter(ids ...string) map[string]any { return map[string]any{"#h": ids} }

func kindsFilter(kinds ...int) map[string]any { return map[string]any{"kinds": kinds} }
