// Package httpapi serves the relay's HTTP surface on the main port (the
// WebSocket upgrade and NIP-11) and the health endpoints on the health port.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/buzzrelay/buzz/relay/internal/ingest"
	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Info is the NIP-11 relay information document.
type Info struct {
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	PubKey        string     `json:"pubkey"`
	SupportedNIPs []int      `json:"supported_nips"`
	Software      string     `json:"software"`
	Version       string     `json:"version"`
	Limitation    Limitation `json:"limitation"`
}

// Limitation is NIP-11's limitation object, plus max_filters.
type Limitation struct {
	MaxMessageLength    int64 `json:"max_message_length"`
	MaxSubscriptions    int   `json:"max_subscriptions"`
	MaxFilters          int   `json:"max_filters"`
	MaxLimit            int   `json:"max_limit"`
	MaxSubIDLength      int   `json:"max_subid_length"`
	MaxContentLength    int   `json:"max_content_length"`
	DefaultLimit        int   `json:"default_limit"`
	CreatedAtLowerLimit int64 `json:"created_at_lower_limit"`
	CreatedAtUpperLimit int64 `json:"created_at_upper_limit"`
	AuthRequired        bool  `json:"auth_required"`
	RestrictedWrites    bool  `json:"restricted_writes"`
	PaymentRequired     bool  `json:"payment_required"`
	MinPowDifficulty    int   `json:"min_pow_difficulty"`
}

// Middleware wraps a route handler with request metrics; action is the route
// pattern.
type Middleware func(action string, next http.Handler) http.Handler

// Routes builds the main port's handler: WebSocket upgrades and NIP-11 on
// "/", the document alone on "/info".
func Routes(info Info, upgrade http.Handler, mw Middleware) http.Handler {
	doc, _ := json.Marshal(info)
	serveInfo := func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/nostr+json")
		_, _ = w.Write(doc)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /info", mw("/info", http.HandlerFunc(serveInfo)))
	mux.Handle("OPTIONS /info", http.HandlerFunc(serveInfo))
	page := mw("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/nostr+json") || r.Method == http.MethodOptions {
			serveInfo(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("buzz relay: connect with a Nostr client over WebSocket\n"))
	}))
	// Upgrades bypass the request metrics: a connection's lifetime is not a
	// request latency, and the upgrader needs the raw ResponseWriter.
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			upgrade.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
	mux.Handle("/{$}", root)
	return mux
}

// NewInfo returns the NIP-11 document: the configured limits given here,
// the protocol limits taken from the packages that enforce them.
func NewInfo(name, description, pubkey, version string, maxFrame int64, maxAgeSecs, maxFutureSecs int64) Info {
	return Info{
		Name: name, Description: description, PubKey: pubkey,
		SupportedNIPs: []int{1, 9, 11, 29, 42, 45}, Software: "https://github.com/buzzrelay/buzz", Version: version,
		Limitation: Limitation{
			MaxMessageLength: maxFrame, MaxSubscriptions: nostr.MaxSubscriptions, MaxFilters: nostr.MaxFilters,
			MaxLimit: nostr.MaxLimit, MaxSubIDLength: nostr.MaxSubIDLength, MaxContentLength: ingest.MaxContentBytes,
			DefaultLimit:        nostr.MaxLimit,
			CreatedAtLowerLimit: maxAgeSecs, CreatedAtUpperLimit: maxFutureSecs,
			AuthRequired: true, RestrictedWrites: true,
		},
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// cors sets the headers NIP-11 asks for so browser clients can read the
// document.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
}

// Health serves /_liveness and /_readiness.
type Health struct {
	draining atomic.Bool
	ready    atomic.Bool
}

// SetReady marks the relay ready (after start-up) or not.
func (h *Health) SetReady(v bool) { h.ready.Store(v) }

// Drain makes readiness report 503 shutting_down from now on.
func (h *Health) Drain() { h.draining.Store(true) }

// Handler returns the health port's mux.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_liveness", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /_readiness", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case h.draining.Load():
			writeStatus(w, http.StatusServiceUnavailable, "shutting_down")
		case !h.ready.Load():
			writeStatus(w, http.StatusServiceUnavailable, "starting")
		default:
			writeStatus(w, http.StatusOK, "ready")
		}
	})
	return mux
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"status":"` + status + `"}`))
}
