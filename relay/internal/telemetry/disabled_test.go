package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/telemetry/otlptest"
)

// hotPathSpan is what a WebSocket handler does per message, following the
// pattern in the package documentation.
func hotPathSpan(ctx context.Context, tr trace.Tracer, connID, eventID string, kind int) context.Context {
	ctx, span := tr.Start(ctx, SpanEvent)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String(AttrConnID, connID),
			attribute.String(AttrEventID, eventID),
			attribute.Int(AttrKind, kind),
		)
	}
	fctx, fan := tr.Start(ctx, SpanFanout)
	if fan.IsRecording() {
		fan.SetAttributes(attribute.String(AttrSubID, "sub"))
	}
	fan.End()
	span.End()
	return fctx
}

func TestDisabledSpanAllocatesNothing(t *testing.T) {
	tr := Start(context.Background(), env(), "v")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		out := hotPathSpan(ctx, tr.Tracer, "conn-1", "ev-1", 1)
		_ = InjectMap(out)
	})
	if allocs != 0 {
		t.Fatalf("disabled hot path allocates %v times per message, want 0", allocs)
	}
}

func TestDisabledTracerKeepsRemoteParent(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	rctx, rec := tp.Tracer("other").Start(context.Background(), "remote")
	defer rec.End()
	m := InjectMap(rctx)

	disabled := Start(context.Background(), env(), "v").Tracer
	// A parent extracted from a message is passed through unchanged.
	ectx := ExtractMap(context.Background(), m)
	ctx, span := disabled.Start(ectx, SpanFanout)
	if ctx != ectx || span.IsRecording() || span.SpanContext().SpanID() != rec.SpanContext().SpanID() {
		t.Fatalf("disabled span over remote parent: recording=%v sc=%v", span.IsRecording(), span.SpanContext())
	}
	// A recording parent from elsewhere is masked, not recorded into.
	ctx, span = disabled.Start(rctx, SpanFanout)
	if span.IsRecording() || !span.SpanContext().Equal(rec.SpanContext()) || trace.SpanFromContext(ctx).IsRecording() {
		t.Fatalf("disabled span over recording parent: recording=%v sc=%v", span.IsRecording(), span.SpanContext())
	}
}

// BenchmarkDisabledSpan is the per-message cost with tracing off: two spans
// (ws.event and its fan-out child) with the guarded attribute calls.
func BenchmarkDisabledSpan(b *testing.B) {
	tr := Start(context.Background(), env(), "v").Tracer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		hotPathSpan(ctx, tr, "conn-1", "ev-1", 1)
	}
}

// BenchmarkDisabledSpanWithAttributesOption shows why the guard matters:
// attributes passed as a Start option are built even for a dropped span.
func BenchmarkDisabledSpanWithAttributesOption(b *testing.B) {
	tr := Start(context.Background(), env(), "v").Tracer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tr.Start(ctx, SpanEvent, trace.WithAttributes(
			attribute.String(AttrConnID, "conn-1"),
			attribute.String(AttrEventID, "ev-1"),
			attribute.Int(AttrKind, 1),
		))
		span.End()
	}
}

// BenchmarkEnabledSpan is the same hot path with a real provider sampling
// everything (batch processor, exporter to a receiver in this process).
func BenchmarkEnabledSpan(b *testing.B) {
	rcv := otlptest.Start(b)
	tr := Start(context.Background(), env(EnvEndpoint, rcv.Addr, EnvSampler, "always_on"), "v")
	defer func() { _ = tr.Shutdown(context.Background()) }()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		hotPathSpan(ctx, tr.Tracer, "conn-1", "ev-1", 1)
	}
}
