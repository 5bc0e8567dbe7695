package telemetry

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/buzzrelay/buzz/relay/internal/telemetry/otlptest"
)

// env serves getenv from key/value pairs.
func env(kv ...string) func(string) string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestStartEnabledExportsParentAndChildAcrossGoroutines(t *testing.T) {
	rcv := otlptest.Start(t)
	ctx := context.Background()
	tr := Start(ctx, env(EnvEndpoint, "http://"+rcv.Addr), "1.2.3")
	if tr.Outcome != Enabled || tr.Err != nil {
		t.Fatalf("outcome = %v, err = %v; want enabled", tr.Outcome, tr.Err)
	}
	if tr.Endpoint != rcv.Addr || !tr.Insecure {
		t.Fatalf("endpoint = %q insecure=%v; want %q insecure", tr.Endpoint, tr.Insecure, rcv.Addr)
	}
	if len(tr.Warnings) != 0 {
		t.Fatalf("unexpected warnings %q", tr.Warnings)
	}

	pctx, parent := tr.Tracer.Start(ctx, SpanEvent)
	if !parent.IsRecording() {
		t.Fatal("parent span not recording with tracing enabled")
	}
	parent.SetAttributes(
		attribute.String(AttrConnID, "conn-7"),
		attribute.String(AttrEventID, "ev-abc"),
		attribute.Int(AttrKind, 9),
	)
	childDone := make(chan trace.SpanContext)
	go func() {
		_, child := tr.Tracer.Start(pctx, SpanFanout)
		child.SetAttributes(attribute.String(AttrSubID, "sub-1"))
		child.End()
		childDone <- child.SpanContext()
	}()
	childSC := <-childDone
	parent.End()

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	got := rcv.Spans()
	if len(got) != 2 {
		t.Fatalf("receiver got %d spans, want 2", len(got))
	}
	byName := map[string]otlptest.Span{}
	for _, s := range got {
		byName[s.Span.GetName()] = s
	}
	p, ok := byName[SpanEvent]
	if !ok {
		t.Fatalf("no %s span among %v", SpanEvent, byName)
	}
	c, ok := byName[SpanFanout]
	if !ok {
		t.Fatalf("no %s span among %v", SpanFanout, byName)
	}
	psc := parent.SpanContext()
	if sid := psc.SpanID(); !bytes.Equal(p.Span.GetSpanId(), sid[:]) {
		t.Fatalf("parent span id %x, want %x", p.Span.GetSpanId(), sid[:])
	}
	if len(p.Span.GetParentSpanId()) != 0 {
		t.Fatalf("parent has parent id %x; want root", p.Span.GetParentSpanId())
	}
	if sid := psc.SpanID(); !bytes.Equal(c.Span.GetParentSpanId(), sid[:]) {
		t.Fatalf("child parent span id %x, want parent's %x", c.Span.GetParentSpanId(), sid[:])
	}
	if cid := childSC.SpanID(); !bytes.Equal(c.Span.GetSpanId(), cid[:]) {
		t.Fatalf("child span id %x, want %x", c.Span.GetSpanId(), cid[:])
	}
	if !bytes.Equal(c.Span.GetTraceId(), p.Span.GetTraceId()) {
		t.Fatal("child and parent are in different traces")
	}
	pattrs := otlptest.Attrs(p.Span.GetAttributes())
	for k, want := range map[string]string{AttrConnID: "conn-7", AttrEventID: "ev-abc", AttrKind: "9"} {
		if pattrs[k] != want {
			t.Errorf("parent attribute %s = %q, want %q (all: %v)", k, pattrs[k], want, pattrs)
		}
	}
	if v := otlptest.Attrs(c.Span.GetAttributes())[AttrSubID]; v != "sub-1" {
		t.Errorf("child %s = %q", AttrSubID, v)
	}
	for _, s := range got {
		if s.Resource["service.name"] != DefaultServiceName {
			t.Errorf("resource service.name = %q, want %q", s.Resource["service.name"], DefaultServiceName)
		}
		if s.Resource["service.version"] != "1.2.3" {
			t.Errorf("resource service.version = %q, want 1.2.3", s.Resource["service.version"])
		}
	}

	// A second shutdown (e.g. a deferred one after the drain) is harmless.
	if err := tr.Shutdown(sctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

func TestStartEnabledHonoursServiceNameAndBareEndpoint(t *testing.T) {
	rcv := otlptest.Start(t)
	ctx := context.Background()
	tr := Start(ctx, env(
		EnvEndpoint, rcv.Addr, // bare host:port → plaintext
		EnvServiceName, "relay-eu",
		EnvResourceAttributes, "deployment.environment=staging,service.name=ignored",
	), "")
	if tr.Outcome != Enabled {
		t.Fatalf("outcome = %v (%v)", tr.Outcome, tr.Err)
	}
	_, span := tr.Tracer.Start(ctx, SpanAuth)
	span.End()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	got := rcv.Spans()
	if len(got) != 1 || got[0].Span.GetName() != SpanAuth {
		t.Fatalf("received %d spans, want one %s", len(got), SpanAuth)
	}
	res := got[0].Resource
	if res["service.name"] != "relay-eu" || res["deployment.environment"] != "staging" {
		t.Fatalf("resource = %v", res)
	}
	if _, ok := res["service.version"]; ok {
		t.Fatalf("service.version set without a version: %v", res)
	}
}

func TestStartSamplerAlwaysOffDoesNotRecord(t *testing.T) {
	rcv := otlptest.Start(t)
	ctx := context.Background()
	tr := Start(ctx, env(EnvEndpoint, "http://"+rcv.Addr, EnvSampler, "always_off"), "v")
	if tr.Outcome != Enabled || tr.Sampler != "AlwaysOffSampler" {
		t.Fatalf("outcome %v sampler %q", tr.Outcome, tr.Sampler)
	}
	_, span := tr.Tracer.Start(ctx, SpanReq)
	if span.IsRecording() {
		t.Fatal("span records under always_off")
	}
	span.End()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := len(rcv.Spans()); n != 0 {
		t.Fatalf("receiver got %d spans under always_off", n)
	}
}

func TestStartInvalidSamplerWarnsAndUsesDefault(t *testing.T) {
	rcv := otlptest.Start(t)
	ctx := context.Background()
	tr := Start(ctx, env(EnvEndpoint, "http://"+rcv.Addr, EnvSampler, "sometimes"), "v")
	defer func() { _ = tr.Shutdown(ctx) }()
	if tr.Outcome != Enabled {
		t.Fatalf("outcome %v", tr.Outcome)
	}
	if !strings.HasPrefix(tr.Sampler, "ParentBased{root:AlwaysOnSampler") {
		t.Fatalf("sampler %q, want default parent-based always-on", tr.Sampler)
	}
	if len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "sometimes") {
		t.Fatalf("warnings = %q", tr.Warnings)
	}
	_, span := tr.Tracer.Start(ctx, SpanReq)
	defer span.End()
	if !span.IsRecording() {
		t.Fatal("default sampler should record root spans")
	}
}

// TestStartDisabledDialsNothing points the process environment (which Start
// must not read) at a live listener and checks nobody connects to it.
func TestStartDisabledDialsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	t.Setenv(EnvEndpoint, "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+ln.Addr().String())

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	ctx := context.Background()
	for _, getenv := range []func(string) string{env(), env(EnvEndpoint, ""), env(EnvEndpoint, "  \t")} {
		tr := Start(ctx, getenv, "v")
		if tr.Outcome != Disabled || tr.Err != nil || tr.Tracer == nil {
			t.Fatalf("outcome %v err %v tracer %v; want disabled with a tracer", tr.Outcome, tr.Err, tr.Tracer)
		}
		if tr.Endpoint != "" || tr.Sampler != "" {
			t.Fatalf("disabled tracing reports endpoint %q sampler %q", tr.Endpoint, tr.Sampler)
		}
		sctx, span := tr.Tracer.Start(ctx, SpanEvent)
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Fatal("disabled tracer produced a recording or valid span")
		}
		_, child := tr.Tracer.Start(sctx, SpanFanout)
		if child.IsRecording() {
			t.Fatal("disabled tracer produced a recording child")
		}
		child.End()
		span.End()
		if InjectMap(sctx) != nil {
			t.Fatal("disabled span injected trace context")
		}
		if err := tr.Shutdown(ctx); err != nil {
			t.Fatalf("disabled shutdown: %v", err)
		}
	}

	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("something connected to the collector address while tracing was disabled")
	case <-time.After(300 * time.Millisecond):
	}
}

func TestStartExporterBuildFailed(t *testing.T) {
	ctx := context.Background()
	for _, ep := range []string{
		"http://[::1",              // unterminated IPv6 literal
		"ftp://collector:4317",     // unsupported scheme
		"unix:///run/otel.sock",    // unsupported scheme
		"http://:4317",             // no host
		"http://collector:99999",   // port out of range
		"http://collector:0",       // port out of range
		"collector:abc",            // non-numeric port
		"http://collector:",        // empty port
		"http://user:pw@collector", // credentials in URL
		"%zz:4317",                 // bad escape
		"collector name:4317",      // space in host
	} {
		tr := Start(ctx, env(EnvEndpoint, ep), "v")
		if tr.Outcome != ExporterBuildFailed {
			t.Errorf("%q: outcome %v, want exporter_build_failed", ep, tr.Outcome)
			continue
		}
		if !errors.Is(tr.Err, errEndpoint) {
			t.Errorf("%q: err %v does not wrap errEndpoint", ep, tr.Err)
		}
		if tr.Tracer == nil {
			t.Errorf("%q: nil tracer", ep)
			continue
		}
		if _, span := tr.Tracer.Start(ctx, SpanEvent); span.IsRecording() {
			t.Errorf("%q: failed start-up gave a recording tracer", ep)
		}
		if err := tr.Shutdown(ctx); err != nil {
			t.Errorf("%q: shutdown: %v", ep, err)
		}
	}
}

// TestNewExporterFailureIsReported drives the exporter constructor itself into
// a real failure (gRPC rejects the target), the path Start classifies as
// ExporterBuildFailed should validation ever let such a target through.
func TestNewExporterFailureIsReported(t *testing.T) {
	_, err := newExporter(context.Background(), endpoint{hostport: "%zz", insecure: true})
	if err == nil {
		t.Fatal("newExporter accepted the target %zz")
	}
	if !strings.Contains(err.Error(), "build OTLP/gRPC exporter") {
		t.Fatalf("error %v lacks context", err)
	}
}

func TestShutdownNilTracing(t *testing.T) {
	var tr *Tracing
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("nil shutdown: %v", err)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Disabled: "disabled", Enabled: "enabled", ExporterBuildFailed: "exporter_build_failed", Outcome(9): "Outcome(9)"} {
		if got := o.String(); got != want {
			t.Errorf("%d: %q, want %q", int(o), got, want)
		}
	}
}
