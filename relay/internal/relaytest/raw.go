package relaytest

import (
	"encoding/json"
	"fmt"
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
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	c := &RawClient{WS: ws}
	m, err := c.Next(5 * time.Second)
	if err != nil {
		ws.Close()
		return nil, err
	}
	if len(m) != 2 || m[0] != "AUTH" {
		ws.Close()
		return nil, fmt.Errorf("first frame %v, want AUTH", m)
	}
	challenge, _ := m[1].(string)
	ev := gonostr.Event{Kind: 22242, CreatedAt: gonostr.Now(), Tags: gonostr.Tags{{"relay", url}, {"challenge", challenge}}}
	if err := ev.Sign(u.SK); err != nil {
		ws.Close()
		return nil, err
	}
	ok, msg, err := c.send("AUTH", ev)
	if err != nil || !ok {
		ws.Close()
		return nil, fmt.Errorf("auth refused: %q %v", msg, err)
	}
	return c, nil
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
	return c.send("EVENT", ev)
}

func (c *RawClient) send(typ string, ev gonostr.Event) (bool, string, error) {
	b, _ := json.Marshal([]any{typ, ev})
	if err := c.WS.WriteMessage(websocket.TextMessage, b); err != nil {
		return false, "", err
	}
	for {
		m, err := c.Next(10 * time.Second)
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
