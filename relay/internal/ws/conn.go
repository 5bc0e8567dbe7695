// Package ws owns one WebSocket connection's life: the NIP-42 auth window,
// the read loop and message dispatch, the bounded send queue with its
// slow-client rule, and keep-alive pings.
package ws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Close codes the relay uses.
const (
	closePolicy  = websocket.ClosePolicyViolation // 1008: auth window
	closeRestart = websocket.CloseServiceRestart  // 1012: shutdown
	closeGoAway  = websocket.CloseGoingAway       // 1001: slow client, missed pongs
	writeTimeout = 10 * time.Second
	missedPongs  = 3
)

// Conn is one client connection. It implements fanout.Subscriber.
type Conn struct {
	h      *Handler
	ws     *websocket.Conn
	id     uint64
	log    *slog.Logger
	queue  chan []byte
	closed chan struct{} // closed once the connection is finished
	once   sync.Once
	// readDone is closed when the read loop has returned.
	readDone chan struct{}

	challenge string
	// pubkey is set once AUTH succeeds; read by fan-out goroutines.
	pubkey     atomic.Pointer[string]
	authFailed bool // read loop only

	failedSends atomic.Int32

	// held holds live frames per subscription id while its stored results
	// are being sent; holding counts entries so Deliver can skip the lock.
	holdMu  sync.Mutex
	held    map[string]*subHold
	holding atomic.Int32
	// closeCode/closeText is the close frame the writer sends on its way out.
	closeMu   sync.Mutex
	closeCode int
	closeText string

	pongs atomic.Int32 // pings sent since the last pong
}

func newConn(h *Handler, c *websocket.Conn, id uint64) (*Conn, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &Conn{
		h:         h,
		ws:        c,
		id:        id,
		log:       h.Log.With("conn_id", id),
		queue:     make(chan []byte, h.SendBuffer),
		closed:    make(chan struct{}),
		readDone:  make(chan struct{}),
		held:      make(map[string]*subHold),
		challenge: hex.EncodeToString(b[:]),
	}, nil
}

// Pubkey is the authenticated identity, "" before AUTH.
func (c *Conn) Pubkey() string {
	if p := c.pubkey.Load(); p != nil {
		return *p
	}
	return ""
}

// send enqueues a fan-out frame without blocking (spec §6). A full queue is
// a failed send; SlowClientGrace consecutive failures disconnect the client.
func (c *Conn) send(frame []byte) bool {
	select {
	case <-c.closed:
		return false
	default:
	}
	select {
	case c.queue <- frame:
		c.failedSends.Store(0)
		return true
	default:
		return c.failedSend()
	}
}

// failedSend counts a send the client could not take and disconnects it when
// the grace limit is reached. It always returns false.
func (c *Conn) failedSend() bool {
	if c.failedSends.Add(1) == int32(c.h.SlowClientGrace) {
		c.h.Metrics.WSBackpressureDisconnects.Inc()
		c.log.Warn("disconnecting slow client", "queue", cap(c.queue))
		c.shutdown(closeGoAway, "slow client")
	}
	return false
}

// Deliver implements fanout.Subscriber. While a subscription is still sending
// its stored results, its live events are held back (bounded by the send
// buffer) so they follow EOSE, as spec §2 orders them; for a short while
// after EOSE an event already sent as a stored result is not sent again.
func (c *Conn) Deliver(subID string, ev *nostr.Event, frame []byte) bool {
	if c.holding.Load() > 0 {
		c.holdMu.Lock()
		if h := c.held[subID]; h != nil {
			switch {
			case h.until.IsZero(): // still sending stored results
				if len(h.frames) >= cap(c.queue) {
					c.holdMu.Unlock()
					return c.failedSend()
				}
				h.frames = append(h.frames, heldFrame{id: ev.ID, frame: frame})
				c.holdMu.Unlock()
				return true
			case time.Now().Before(h.until):
				if _, dup := h.sent[ev.ID]; dup {
					c.holdMu.Unlock()
					return true
				}
			default:
				c.forget(subID)
			}
		}
		c.holdMu.Unlock()
	}
	return c.send(frame)
}

// dedupeWindow is how long after EOSE a live copy of a stored result is
// dropped: an event saved just before the query may reach fan-out just
// after it, and that takes far less than this.
const dedupeWindow = 5 * time.Second

// subHold is one subscription's state between REQ and shortly after EOSE.
type subHold struct {
	frames []heldFrame         // live events waiting for EOSE
	sent   map[string]struct{} // stored results already sent
	until  time.Time           // zero while holding; then the end of the dedupe window
}

// heldFrame is a live event waiting for its subscription's EOSE.
type heldFrame struct {
	id    string
	frame []byte
}

// hold starts holding live events for subID (replacing any earlier state of
// that id) and forgets subscriptions whose dedupe window has passed.
func (c *Conn) hold(subID string) {
	c.holdMu.Lock()
	now := time.Now()
	for id, h := range c.held {
		if !h.until.IsZero() && now.After(h.until) {
			c.forget(id)
		}
	}
	if c.held[subID] == nil {
		c.holding.Add(1)
	}
	c.held[subID] = &subHold{}
	c.holdMu.Unlock()
}

// release stops holding subID and sends what was held, in arrival order,
// skipping events already sent as stored results. Frames that arrive while
// it sends are picked up before holding ends, so live order is kept.
func (c *Conn) release(ctx context.Context, subID string, sent map[string]struct{}) {
	for {
		c.holdMu.Lock()
		h := c.held[subID]
		if h == nil {
			c.holdMu.Unlock()
			return
		}
		frames := h.frames
		if len(frames) == 0 {
			h.sent, h.until = sent, time.Now().Add(dedupeWindow)
			c.holdMu.Unlock()
			return
		}
		h.frames = nil
		c.holdMu.Unlock()
		for _, f := range frames {
			if _, dup := sent[f.id]; dup {
				continue
			}
			if c.reply(ctx, f.frame) != nil {
				c.drop(subID)
				return
			}
		}
	}
}

// drop forgets subID's hold and anything held.
func (c *Conn) drop(subID string) {
	c.holdMu.Lock()
	c.forget(subID)
	c.holdMu.Unlock()
}

// forget removes subID's state; holdMu must be held.
func (c *Conn) forget(subID string) {
	if _, ok := c.held[subID]; ok {
		delete(c.held, subID)
		c.holding.Add(-1)
	}
}

// reply enqueues a frame that answers this connection's own request. It
// waits for room, which only slows this client's own read loop. A frame is
// still accepted after the close began while there is room, so a handler
// that finishes during shutdown gets its OK out before the close frame.
func (c *Conn) reply(ctx context.Context, frame []byte) error {
	select {
	case c.queue <- frame:
		c.failedSends.Store(0)
		return nil
	default:
	}
	select {
	case c.queue <- frame:
		c.failedSends.Store(0)
		return nil
	case <-c.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errClosed = errors.New("connection closed")

// shutdown asks the writer to send a close frame and end the connection.
// The first caller's code wins.
func (c *Conn) shutdown(code int, text string) {
	c.once.Do(func() {
		c.closeMu.Lock()
		c.closeCode, c.closeText = code, text
		c.closeMu.Unlock()
		close(c.closed)
	})
}

// writeLoop is the only writer of the socket: queued frames, pings, and the
// final close frame.
func (c *Conn) writeLoop() {
	ping := time.NewTicker(c.h.PingInterval)
	defer ping.Stop()
	defer c.ws.Close()
	for {
		select {
		case frame := <-c.queue:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if c.pongs.Add(1) > missedPongs {
				c.log.Info("closing connection that missed pongs")
				c.shutdown(closeGoAway, "missed pongs")
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
			}
		case <-c.closed:
			c.flushAndClose()
			return
		}
	}
}

// flushAndClose ends the connection. On shutdown (1012) it first lets the
// in-flight handler finish and writes every reply it queued, so a client
// whose event was stored still receives its OK; then it sends the close
// frame and gives the client a moment to answer it.
func (c *Conn) flushAndClose() {
	c.closeMu.Lock()
	code, text := c.closeCode, c.closeText
	c.closeMu.Unlock()
	if code == websocket.CloseAbnormalClosure {
		return
	}
	deadline := time.Now().Add(writeTimeout)
	if code == closeRestart {
		// Unblock a read loop that waits for the next message; one that is
		// handling a message finishes it first.
		_ = c.ws.SetReadDeadline(time.Now())
		select {
		case <-c.readDone:
		case <-time.After(writeTimeout):
		}
		for drained := false; !drained; {
			select {
			case frame := <-c.queue:
				_ = c.ws.SetWriteDeadline(deadline)
				if c.ws.WriteMessage(websocket.TextMessage, frame) != nil {
					return
				}
			default:
				drained = true
			}
		}
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
	_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
	<-c.readDone
}
