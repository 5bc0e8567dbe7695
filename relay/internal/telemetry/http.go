package telemetry

import (
	"net/http"

	"github.com/buzzrelay/buzz/relay/internal/httpstatus"
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

		rec := httpstatus.New(w)
		req := r.WithContext(ctx)
		next.ServeHTTP(rec, req)

		// ServeMux records the matched pattern on the request it was given.
		if route := httpstatus.Route(req.Pattern); route != "" {
			span.SetName(method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		status := rec.Status()
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
