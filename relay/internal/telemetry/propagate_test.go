package telemetry

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestInjectExtractRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	ts, err := trace.ParseTraceState("buzz=relay1,vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	ctx, pub := tracer.Start(context.Background(), SpanRedisPrefix+"publish")
	ctx = trace.ContextWithSpanContext(ctx, pub.SpanContext().WithTraceState(ts))
	sc := trace.SpanContextFromContext(ctx)

	m := InjectMap(ctx)
	want := fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
	if m["traceparent"] != want {
		t.Fatalf("traceparent %q, want %q", m["traceparent"], want)
	}
	if m["tracestate"] != "buzz=relay1,vendor=x" {
		t.Fatalf("tracestate %q", m["tracestate"])
	}

	// The subscriber side: a fresh context, as a Redis consumer would have.
	got := trace.SpanContextFromContext(ExtractMap(context.Background(), m))
	if !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() ||
		got.TraceFlags() != sc.TraceFlags() || got.TraceState().String() != ts.String() {
		t.Fatalf("extracted %+v, want remote copy of %+v", got, sc)
	}

	_, sub := tracer.Start(ExtractMap(context.Background(), m), SpanFanout)
	defer sub.End()
	ro, ok := sub.(sdktrace.ReadOnlySpan)
	if !ok {
		t.Fatalf("SDK span %T is not a ReadOnlySpan", sub)
	}
	if ro.Parent().SpanID() != sc.SpanID() || sub.SpanContext().TraceID() != sc.TraceID() {
		t.Fatalf("subscriber span parent %v trace %v, want %v %v", ro.Parent().SpanID(), sub.SpanContext().TraceID(), sc.SpanID(), sc.TraceID())
	}
	pub.End()
}

func TestInjectMapWithoutSpanIsNil(t *testing.T) {
	if m := InjectMap(context.Background()); m != nil {
		t.Fatalf("InjectMap without span = %v", m)
	}
}

func TestExtractMapIgnoresMissingOrMalformed(t *testing.T) {
	base := context.Background()
	for _, m := range []map[string]string{
		nil,
		{},
		{"other": "x"},
		{"traceparent": "garbage"},
		{"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"},
	} {
		if sc := trace.SpanContextFromContext(ExtractMap(base, m)); sc.IsValid() {
			t.Errorf("%v: extracted valid span context %v", m, sc)
		}
	}
}
