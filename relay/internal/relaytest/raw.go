package relaytest

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"
)

// RawClient is a plain WebSocket client that reports exactly what the relay
// answered. go-nostr's Publish returns nil when the connection drops before
// an OK arrives, which a test counting accepted events must not mistake for
// OK true.
type RawClient struct {
	WS *websocket.Conn
}

// DialRaw connects and authenticates as u.
func DialRaw(url string, u User) (*RawClient, error) {
	c, challenge, err := DialUnauth(nil, url)
	if err != nil {
		return nil, err
	}
	ev := gonostr.Event{Kind: 22242, CreatedAt: gonostr.Now(), Tags: gonostr.Tags{{"relay", url}, {"challenge", challenge}}}
	if err := ev.Sign(u.SK); err != nil {
		c.Close()
		return nil, err
	}
	ok, msg, err := c.Send("AUTH", ev, 10*time.Second)
	if err != nil || !ok {
		c.Close()
		return nil, fmt.Errorf("auth refused: %q %v", msg, err)
	}
	return c, nil
}

// MustDialRaw is DialRaw that fails the test on error and closes the
// client when the test ends.
func MustDialRaw(t testing.TB, url string, u User) *RawClient {
	t.Helper()
	c, err := DialRaw(url, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DialUnauth connects with d (nil: the default dialer) without
// authenticating, and returns the client and the relay's AUTH challenge,
// which must be the first frame within 5 s.
func DialUnauth(d *websocket.Dialer, url string) (*RawClient, string, error) {
	if d == nil {
		d = websocket.DefaultDialer
	}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, "", err
	}
	c := &RawClient{WS: ws}
	m, err := c.Next(5 * time.Second)
	if err != nil {
		ws.Close()
		return nil, "", err
	}
	if len(m) != 2 || m[0] != "AUTH" {
		ws.Close()
		return nil, "", fmt.Errorf("first frame %v, want AUTH", m)
	}
	challenge, _ := m[1].(string)
	return c, challenge, nil
}

// SmallBufferDialer dials with the socket's receive buffer set to bytes, so
// a client that stops reading makes the relay's writes back up soon.
func SmallBufferDialer(bytes int) *websocket.Dialer {
	return &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(bytes)
		}
		return c, err
	}}
}

// Next reads one frame as a JSON array.
func (c *RawClient) Next(timeout time.Duration) ([]any, error) {
	_ = c.WS.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := c.WS.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m []any
	if err := json.Unmarshal(data, &m); err != nil || len(m) == 0 {
		return nil, fmt.Errorf("relay sent non-array %q", data)
	}
	return m, nil
}

// Publish sends ev and waits for its OK. err is set when no OK arrived.
func (c *RawClient) Publish(ev gonostr.Event) (ok bool, msg string, err error) {
	return c.Send("EVENT", ev, 10*time.Second)
}

// Send sends [typ, ev] (EVENT or AUTH) and waits for the OK naming ev,
// skipping other frames; err is set when no frame arrived within timeout.
func (c *RawClient) Send(typ string, ev gonostr.Event, timeout time.Duration) (ok bool, msg string, err error) {
	b, _ := json.Marshal([]any{typ, ev})
	if err := c.WS.WriteMessage(websocket.TextMessage, b); err != nil {
		return false, "", err
	}
	for {
		m, err := c.Next(timeout)
		if err != nil {
			return false, "", err
		}
		if len(m) == 4 && m[0] == "OK" && m[1] == ev.ID {
			ok, _ := m[2].(bool)
			msg, _ := m[3].(string)
			return ok, msg, nil
		}
	}
}

// Close closes the socket.
func (c *RawClient) Close() error { return c.WS.Close() }
