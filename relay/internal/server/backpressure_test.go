package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// TestSlowReaderDisconnected: a client that stops reading is disconnected
// once its queue has failed BUZZ_SLOW_CLIENT_GRACE_LIMIT sends in a row,
// while a fast reader on the same filter receives every event.
func TestSlowReaderDisconnected(t *testing.T) {
	r := startRelay(t, "sqlite", map[string]string{"BUZZ_SEND_BUFFER": "8", "BUZZ_SLOW_CLIENT_GRACE_LIMIT": "3"})
	pub, fast, slow := newUser(t), newUser(t), newUser(t)
	cp, cf := r.login(t, pub), r.login(t, fast)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The slow client has a small socket buffer and never reads after EOSE.
	// (Much smaller and the final drain below crawls: a tiny window plus
	// delayed ACKs moves a few KB per round trip.)
	sc, challenge := dialRawConn(t, relaytest.SmallBufferDialer(64<<10), r.URL)
	sc.sendJSON([]any{"AUTH", slow.Event(t, 22242, "", gonostr.Tag{"relay", r.URL}, gonostr.Tag{"challenge", challenge})})
	sc.expect("slow auth", "OK", "")
	sc.send(`["REQ","live",{"kinds":[20001]}]`)
	sc.expect("slow EOSE", "EOSE", "")

	sub, err := cf.Subscribe(ctx, gonostr.Filters{{Kinds: []int{20001}}})
	if err != nil {
		t.Fatal(err)
	}
	<-sub.EndOfStoredEvents

	const n = 300
	payload := strings.Repeat("z", 50_000)
	received := make(chan int)
	go func() {
		got := 0
		for got < n {
			select {
			case <-sub.Events:
				got++
			case <-ctx.Done():
				received <- got
				return
			}
		}
		received <- got
	}()
	for i := 0; i < n; i++ {
		publish(t, cp, pub.Event(t, 20001, payload))
	}
	if got := <-received; got != n {
		t.Errorf("fast reader received %d of %d events", got, n)
	}
	if v := r.Metrics.WSBackpressureDisconnects.Value(); v != 1 {
		t.Errorf("buzz_ws_backpressure_disconnects_total = %d, want 1", v)
	}
	// The slow socket was closed by the relay: reading on eventually fails.
	_ = sc.WS.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := sc.WS.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Error("slow client still connected")
			}
			break
		}
	}
}

func (c *rawConn) sendJSON(v any) {
	c.t.Helper()
	if err := c.WS.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func TestMaxConnections(t *testing.T) {
	r := startRelay(t, "sqlite", map[string]string{"BUZZ_MAX_CONNECTIONS": "2"})
	a, _, err := websocket.DefaultDialer.Dial(r.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := websocket.DefaultDialer.Dial(r.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, resp, err := websocket.DefaultDialer.Dial(r.URL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: err=%v resp=%v, want HTTP 503", err, resp)
	}
	// A slot frees up when a connection closes.
	_ = a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := websocket.DefaultDialer.Dial(r.URL, nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a close: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAuthTimeout(t *testing.T) {
	r := startRelay(t, "sqlite", map[string]string{"BUZZ_AUTH_TIMEOUT_SECS": "1"})
	c := r.raw(t)
	_ = c.WS.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.WS.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("unauthenticated connection: %v, want close 1008", err)
	}
	if v := r.Metrics.WSAuthTimeouts.Value(); v != 1 {
		t.Errorf("buzz_ws_auth_timeouts_total = %d", v)
	}
}
