package telemetry

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// HTTPHandler wraps next so each request gets a server span, continuing a
// caller's W3C traceparent header. The span is named "METHOD route" once
// net/http.ServeMux has matched a pattern (wrap the mux, not its handlers),
// or just "METHOD" otherwise; methods outside the standard set are recorded
// as "_OTHER" so clients cannot mint span names. With a disabled tracer the
// request passes straight through. Do not wrap the WebSocket endpoint: its
// span would last the whole connection and gather every ws.* span into one
// trace; those spans are started per message instead.
func HTTPHandler(tracer trace.Tracer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := normalizeMethod(r.Method)
		ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if !span.IsRecording() {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.URLPath(r.URL.Path))

		rec := &statusRecorder{ResponseWriter: w}
		req := r.WithContext(ctx)
		next.ServeHTTP(rec, req)

		// ServeMux records the matched pattern on the request it was given.
		if route := routeOf(req.Pattern); route != "" {
			span.SetName(method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written, or hijacked: net/http's default
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// normalizeMethod keeps span names to the standard methods.
func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	default:
		return "_OTHER"
	}
}

// routeOf turns a ServeMux pattern ("[METHOD ][HOST]/path") into its path.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimSpace(pattern[i+1:])
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

// statusRecorder remembers the response status for the span. It passes
// Flush and Hijack through (a WebSocket upgrade asserts http.Hijacker) and
// unwraps for http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without WriteHeader.
func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush forwards to the underlying writer when it can flush.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// errNoHijack reports an underlying writer that cannot be hijacked.
var errNoHijack = errors.New("telemetry: response writer does not support hijacking")

// Hijack forwards to the underlying writer; the connection then belongs to
// the caller, reported as 101 Switching Protocols.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	c, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: hijack: %w", err)
	}
	if s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return c, rw, nil
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
