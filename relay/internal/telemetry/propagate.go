package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// InjectMap returns the W3C traceparent (and tracestate, if any) of the span
// in ctx, to travel inside a published message. It returns nil when ctx holds
// no valid span context, so a publisher with tracing off allocates nothing.
func InjectMap(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	m := make(map[string]string, 2)
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(m))
	return m
}

// ExtractMap returns ctx carrying the remote span context found in m, so that
// spans started from it continue the publisher's trace. A nil, empty or
// malformed m returns ctx unchanged.
func ExtractMap(ctx context.Context, m map[string]string) context.Context {
	if len(m) == 0 {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(m))
}
