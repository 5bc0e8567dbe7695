package ws

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/access"
	"github.com/buzzrelay/buzz/relay/internal/fanout"
	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/metrics"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
	"github.com/buzzrelay/buzz/relay/internal/store"
)

// Subscriptions is the live fan-out index as a connection uses it.
type Subscriptions interface {
	Subscribe(sub fanout.Subscriber, subID string, filters []nostr.Filter)
	Unsubscribe(sub fanout.Subscriber, subID string) bool
	UnsubscribeAll(sub fanout.Subscriber) int
	Count(sub fanout.Subscriber) int
}

// Reader is what REQ and COUNT need from the store.
type Reader interface {
	Query(ctx context.Context, filters []nostr.Filter, scope store.Scope) ([]*nostr.Event, error)
	Count(ctx context.Context, filters []nostr.Filter, scope store.Scope) (int64, error)
}

// Access is what a connection needs from access control.
type Access interface {
	Authorize(ctx context.Context, pubkey string) (access.AuthDecision, error)
	Scope(ctx context.Context, pubkey string) (store.Scope, error)
}

// Handler upgrades HTTP requests to relay connections and tracks them.
type Handler struct {
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	Tracer   trace.Tracer
	Ingest   *ingest.Pipeline
	Index    Subscriptions
	Store    Reader
	Access   Access
	RelayURL string

	MaxConnections  int
	MaxFrameBytes   int64
	SendBuffer      int
	SlowClientGrace int
	AuthTimeout     time.Duration
	PingInterval    time.Duration

	upgrader websocket.Upgrader
	nextID   atomic.Uint64
	active   atomic.Int64
	draining atomic.Bool

	mu    sync.Mutex
	conns map[*Conn]struct{}
	wg    sync.WaitGroup
}

// Init prepares the handler; call once before serving.
func (h *Handler) Init() {
	h.conns = make(map[*Conn]struct{})
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Nostr clients connect from anywhere, browsers included.
		CheckOrigin: func(*http.Request) bool { return true },
	}
}

// ServeHTTP upgrades the request, or answers 503 when the relay is full or
// draining.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		http.Error(w, "relay is shutting down", http.StatusServiceUnavailable)
		return
	}
	if h.active.Add(1) > int64(h.MaxConnections) {
		h.active.Add(-1)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	wsc, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.active.Add(-1)
		return // the upgrader already answered
	}
	c, err := newConn(h, wsc, h.nextID.Add(1))
	if err != nil {
		h.active.Add(-1)
		_ = wsc.Close()
		return
	}
	wsc.SetReadLimit(h.MaxFrameBytes)
	h.mu.Lock()
	h.conns[c] = struct{}{}
	// The reader and the writer both count: shutdown waits until the
	// writer has sent the queued replies and the close frame.
	h.wg.Add(2)
	// A drain that began during the upgrade has already walked the
	// connections; this one must close with 1012 too.
	if h.draining.Load() {
		c.shutdown(closeRestart, "relay restarting")
	}
	h.mu.Unlock()
	h.Metrics.WSConnections.Inc()
	h.Metrics.WSActive.Inc()
	go func() {
		defer h.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer h.wg.Done()
		c.readLoop()
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		h.active.Add(-1)
		h.Metrics.WSActive.Dec()
	}()
}

// Drain refuses new upgrades from now on.
func (h *Handler) Drain() { h.draining.Store(true) }

// CloseAll sends close code 1012 to every connection and waits (bounded by
// ctx) until their in-flight handlers have finished.
func (h *Handler) CloseAll(ctx context.Context) error {
	h.mu.Lock()
	h.draining.Store(true)
	for c := range h.conns {
		c.shutdown(closeRestart, "relay restarting")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
