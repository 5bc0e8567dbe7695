package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// disabledTracer is the tracer used when tracing is off. The API's noop
// tracer stores its span in a fresh context on every Start, one allocation
// per WebSocket message for nothing; this one hands back the caller's context
// and whatever non-recording span it already holds.
type disabledTracer struct{ noop.Tracer }

// Start returns ctx unchanged with a non-recording span. Only if ctx holds a
// recording span (from some other provider) does it wrap that span's context
// in a non-recording span, as the API specification requires.
func (disabledTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return ctx, span
	}
	ctx = trace.ContextWithSpanContext(ctx, span.SpanContext())
	return ctx, trace.SpanFromContext(ctx)
}
