package systemtest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gonostr "github.com/nbd-wtf/go-nostr"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// The clients below are plain WebSocket connections speaking NIP-01, with
// events signed by go-nostr: independent of the relay's own code.

// infoGet fetches the relay's NIP-11 document with the given caller header.
func infoGet(t *testing.T, url, caller string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("x-envoy-downstream-service-cluster", caller)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

// dialUnauth connects without authenticating and returns the challenge.
func dialUnauth(t *testing.T, url string) (*relaytest.RawClient, string) {
	t.Helper()
	c, challenge, err := relaytest.DialUnauth(nil, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, challenge
}

// sendExpectOK sends [typ, ev] and returns the OK answer for ev.
func sendExpectOK(t *testing.T, c *relaytest.RawClient, typ string, ev gonostr.Event) (bool, string) {
	t.Helper()
	ok, msg, err := c.Send(typ, ev, 5*time.Second)
	if err != nil {
		t.Fatalf("waiting for OK of %s: %v", typ, err)
	}
	return ok, msg
}

// rawCount sends a COUNT with one filter and returns the answer frame
// (COUNT or CLOSED) for it.
func rawCount(t *testing.T, c *relaytest.RawClient, filter string) []any {
	t.Helper()
	id := relaytest.RandomName("count-")
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(`["COUNT","`+id+`",`+filter+`]`)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(30 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the COUNT answer: %v", err)
		}
		if len(m) >= 3 && m[1] == id && (m[0] == "COUNT" || m[0] == "CLOSED") {
			return m
		}
	}
}

// expectClosed reads until the relay closes the connection with code.
func expectClosed(t *testing.T, c *relaytest.RawClient, code int) {
	t.Helper()
	for {
		_, err := c.Next(10 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("connection ended with %v, want close code %d", err, code)
		}
		return
	}
}

// slowClient authenticates as u with a small socket buffer, subscribes to
// kind 20001 and never reads again.
func slowClient(t *testing.T, url string, u relaytest.User) {
	t.Helper()
	c, challenge, err := relaytest.DialUnauth(relaytest.SmallBufferDialer(64<<10), url)
	if err != nil {
		t.Fatalf("slow client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if ok, msg := sendExpectOK(t, c, "AUTH", u.Event(t, 22242, "", gonostr.Tag{"relay", url}, gonostr.Tag{"challenge", challenge})); !ok {
		t.Fatalf("slow client auth: %q", msg)
	}
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(`["REQ","live",{"kinds":[20001]}]`)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("slow client: waiting for EOSE: %v", err)
		}
		if m[0] == "EOSE" {
			return
		}
	}
}

func publishOK(t *testing.T, c *relaytest.RawClient, ev gonostr.Event) {
	t.Helper()
	if msg := publishErr(t, c, ev); msg != "" {
		t.Fatalf("kind %d refused: %s", ev.Kind, msg)
	}
}

// publishErr publishes and returns the relay's refusal message, "" when
// accepted.
func publishErr(t *testing.T, c *relaytest.RawClient, ev gonostr.Event) string {
	t.Helper()
	ok, msg, err := c.Publish(ev)
	if err != nil {
		t.Fatalf("kind %d: no OK: %v", ev.Kind, err)
	}
	if ok {
		return ""
	}
	return msg
}

// subscribe sends a REQ and returns the number of stored events before
// EOSE; the subscription stays open.
func subscribe(t *testing.T, c *relaytest.RawClient, id, filter string) int {
	t.Helper()
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(`["REQ","`+id+`",`+filter+`]`)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("REQ %s: %v", id, err)
		}
		switch {
		case len(m) == 3 && m[0] == "EVENT" && m[1] == id:
			n++
		case len(m) == 2 && m[0] == "EOSE" && m[1] == id:
			return n
		case len(m) >= 2 && m[0] == "CLOSED" && m[1] == id:
			t.Fatalf("REQ %s refused: %v", id, m)
		}
	}
}

// query is a REQ that is closed after EOSE; it returns the stored events'
// count.
func query(t *testing.T, c *relaytest.RawClient, filter string) int {
	t.Helper()
	n := subscribe(t, c, "q", filter)
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(`["CLOSE","q"]`)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("CLOSE: %v", err)
		}
		if len(m) >= 2 && m[0] == "CLOSED" && m[1] == "q" {
			return n
		}
	}
}
