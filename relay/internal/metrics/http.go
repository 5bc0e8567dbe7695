package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/httpstatus"
)

// CallerHeader names the calling service (set by the Istio sidecar).
const CallerHeader = "x-envoy-downstream-service-cluster"

// CallerLabel bounds the caller label: the header itself when it matches
// ^[A-Za-z0-9._-]{1,64}$, else "unknown".
func CallerLabel(header string) string {
	if len(header) == 0 || len(header) > 64 {
		return LabelUnknown
	}
	for i := 0; i < len(header); i++ {
		c := header[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return LabelUnknown
		}
	}
	return header
}

func (m *Metrics) initCodes() {
	for i := range m.codes {
		m.codes[i] = strconv.Itoa(i)
	}
}

func (m *Metrics) codeLabel(code int) string {
	if code >= 0 && code < len(m.codes) {
		return m.codes[code]
	}
	return strconv.Itoa(code)
}

// recorded reports whether requests to path count in the HTTP metrics:
// internal, health and metrics paths are skipped to bound cardinality.
func recorded(path string) bool {
	return !strings.HasPrefix(path, "/_") && !strings.HasPrefix(path, "/health") && !strings.HasPrefix(path, "/metrics")
}

// ObserveHTTP records one served request.
func (m *Metrics) ObserveHTTP(code int, caller, action string, elapsed time.Duration) {
	c := m.codeLabel(code)
	m.HTTPRequests.With(c, caller, action).Inc()
	m.HTTPLatencyMS.With(c, caller, action).Observe(float64(elapsed) / float64(time.Millisecond))
}

// HTTPMiddleware records http_requests_total and http_request_latency_ms for
// one route; action is the route's pattern (e.g. "/api/channels/{id}").
func (m *Metrics) HTTPMiddleware(action string, next http.Handler) http.Handler {
	return m.instrument(next, func(*http.Request) string { return action })
}

// HTTPMux wraps a whole http.ServeMux: the action is the pattern the mux
// matched, without its method and host ("GET /api/x/{id}" → "/api/x/{id}").
// Requests that matched no pattern are not recorded.
func (m *Metrics) HTTPMux(mux http.Handler) http.Handler {
	// ServeMux sets r.Pattern on the request it is given.
	return m.instrument(mux, func(r *http.Request) string { return httpstatus.Route(r.Pattern) })
}

// instrument serves next and records the request under the action read from
// it after serving; an empty action is not recorded.
func (m *Metrics) instrument(next http.Handler, action func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !recorded(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := httpstatus.New(w)
		next.ServeHTTP(sw, r)
		if a := action(r); a != "" {
			m.ObserveHTTP(sw.Status(), CallerLabel(r.Header.Get(CallerHeader)), a, time.Since(start))
		}
	})
}
