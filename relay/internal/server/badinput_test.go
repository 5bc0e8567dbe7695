package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// rawConn is a plain WebSocket for sending what no client library would;
// its methods fail the test instead of returning errors.
type rawConn struct {
	t testing.TB
	*relaytest.RawClient
}

// dialRawConn connects with d (nil: the default dialer) without
// authenticating; it returns the relay's AUTH challenge.
func dialRawConn(t testing.TB, d *websocket.Dialer, url string) (*rawConn, string) {
	t.Helper()
	c, challenge, err := relaytest.DialUnauth(d, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, RawClient: c}, challenge
}

func (r *testRelay) raw(t testing.TB) *rawConn {
	t.Helper()
	c, _ := dialRawConn(t, nil, r.URL)
	return c
}

func (c *rawConn) send(frame string) {
	c.t.Helper()
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame as a JSON array.
func (c *rawConn) next() []any {
	c.t.Helper()
	m, err := c.Next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *rawConn) expect(label string, typ string, prefix string) {
	c.t.Helper()
	m := c.next()
	last, _ := m[len(m)-1].(string)
	if m[0] != typ || !strings.HasPrefix(last, prefix) {
		c.t.Errorf("%s: got %v, want %s %q...", label, m, typ, prefix)
	}
}

func TestBadInput(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := startRelay(t, "sqlite", map[string]string{"BUZZ_MAX_FRAME_BYTES": "65536"})
	alice := newUser(t)
	good := r.login(t, alice)
	c := r.raw(t)

	notices := []struct{ label, frame string }{
		{"malformed JSON", `["EVENT", {`},
		{"not an array", `{"type":"EVENT"}`},
		{"empty array", `[]`},
		{"unknown type", `["HELLO"]`},
		{"type not a string", `[1, 2]`},
		{"wrong field type", `["EVENT", {"id": 5}]`},
		{"huge created_at", `["EVENT", {"id":"` + strings.Repeat("a", 64) + `","pubkey":"` + strings.Repeat("a", 64) + `","created_at":1e400,"kind":1,"tags":[],"content":"","sig":"` + strings.Repeat("a", 128) + `"}]`},
		{"bad hex", `["EVENT", {"id":"` + strings.Repeat("Z", 64) + `","pubkey":"` + strings.Repeat("a", 64) + `","created_at":1,"kind":1,"tags":[],"content":"","sig":"` + strings.Repeat("a", 128) + `"}]`},
		{"invalid UTF-8", "[\"EVENT\", \"\xff\xfe\"]"},
		{"sub id too long", `["REQ", "` + strings.Repeat("s", 257) + `", {}]`},
	}
	for _, n := range notices {
		c.send(n.frame)
		c.expect(n.label, "NOTICE", "invalid:")
	}
	// Filter problems are answered on the subscription.
	c.send(`["REQ", "s1", {"kinds": ["one"]}]`)
	c.expect("bad filter", "CLOSED", "invalid:")
	c.send(`["REQ", "s2", {"limit": 18446744073709551616}]`)
	c.expect("huge limit", "CLOSED", "invalid:")
	c.send(`["CLOSE", "never-opened"]`)
	c.expect("close unknown", "CLOSED", "")

	// An oversize frame closes that connection with 1009...
	big := r.raw(t)
	big.send(`["NOTICE","` + strings.Repeat("x", 70000) + `"]`)
	_ = big.WS.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := big.WS.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("oversize frame: %v, want close 1009", err)
	}
	// ...while the others keep being served.
	if err := good.Publish(t.Context(), alice.Event(t, 1, "still here")); err != nil {
		t.Errorf("other connection after bad input: %v", err)
	}
	c.send(`["CLOSE", "x"]`)
	c.expect("same connection after bad input", "CLOSED", "")

	_ = c.WS.Close()
	_ = big.WS.Close()
	_ = good.Close()
	r.stop(t)
}

func TestRequestLimits(t *testing.T) {
	r := startRelay(t, "sqlite", nil)
	alice := newUser(t)
	c := r.raw(t)
	c.authAs(alice, r)

	filters := strings.TrimSuffix(strings.Repeat(`{},`, 11), ",")
	c.send(`["REQ","many",` + filters + `]`)
	c.expect("11 filters", "CLOSED", "invalid: too many filters")

	// Filter values are bounded: per list, and for the whole request.
	values := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprintf(`"%d"`, i)
		}
		return "[" + strings.Join(v, ",") + "]"
	}
	c.send(`["REQ","wide",{"#p":` + values(1001) + `}]`)
	c.expect("1001 values in one list", "CLOSED", "invalid: a filter list may hold at most 1000 values")
	c.send(`["COUNT","wide",{"#t":` + values(1000) + `},{"#t":` + values(1000) + `},{"#t":` + values(1000) + `},{"#t":` + values(1000) + `},{"#t":` + values(1000) + `},{"#t":["x"]}]`)
	c.expect("5001 values in a request", "CLOSED", "invalid: filters may hold at most 5000 values in all")

	// A refused REQ also ends an open subscription with the same id.
	c.send(`["REQ","reused",{"kinds":[1]}]`)
	c.expect("open reused", "EOSE", "")
	c.send(`["REQ","reused",` + filters + `]`)
	c.expect("refused reuse", "CLOSED", "invalid: too many filters")
	pub := r.login(t, alice)
	if err := pub.Publish(t.Context(), alice.Event(t, 1, "after the refusal")); err != nil {
		t.Fatal(err)
	}
	c.send(`["CLOSE","probe"]`)
	c.expect("nothing for the refused subscription", "CLOSED", "")

	var hs []string
	for i := 0; i < 129; i++ {
		hs = append(hs, fmt.Sprintf(`"%08d-0000-4000-8000-000000000000"`, i))
	}
	c.send(`["REQ","chans",{"#h":[` + strings.Join(hs, ",") + `]}]`)
	c.expect("129 channels", "CLOSED", "restricted: too many explicit channels")
	c.send(`["COUNT","chans",{"#h":[` + strings.Join(hs, ",") + `]}]`)
	c.expect("129 channels in COUNT", "CLOSED", "restricted: too many explicit channels")

	for i := 0; i < 1024; i++ {
		c.send(fmt.Sprintf(`["REQ","sub%d",{"kinds":[1],"limit":0}]`, i))
		c.expect("open subscription", "EOSE", "")
	}
	c.send(`["REQ","one-too-many",{"kinds":[1]}]`)
	c.expect("1025th subscription", "CLOSED", "error: too many subscriptions")
	// Reusing an open id replaces it instead.
	c.send(`["REQ","sub7",{"kinds":[2],"limit":0}]`)
	c.expect("replace subscription", "EOSE", "")
}

// authAs authenticates a raw connection.
func (c *rawConn) authAs(u user, r *testRelay) {
	c.t.Helper()
	// The challenge was consumed by raw(); ask for a fresh connection's
	// challenge by reading it again from a new socket.
	fresh, challenge := dialRawConn(c.t, nil, r.URL)
	c.WS.Close()
	c.RawClient = fresh.RawClient
	ev := u.Event(c.t, 22242, "", []string{"relay", r.URL}, []string{"challenge", challenge})
	b, _ := json.Marshal([]any{"AUTH", ev})
	c.send(string(b))
	c.expect("auth", "OK", "")
}
