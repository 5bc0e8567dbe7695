package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials/insecure"
)

// Span names. Store and Redis spans are named by prefix plus operation,
// written as a constant expression (SpanStorePrefix + "InsertEvent") so the
// name costs nothing at run time.
const (
	SpanAuth        = "ws.auth"
	SpanEvent       = "ws.event"
	SpanReq         = "ws.req"
	SpanCount       = "ws.count"
	SpanFanout      = "fanout.scoped"
	SpanStorePrefix = "store."
	SpanRedisPrefix = "redis."
)

// Span attribute keys, untyped so they work with attribute.String and friends.
const (
	AttrConnID  = "conn_id"
	AttrEventID = "event_id"
	AttrKind    = "kind"
	AttrSubID   = "sub_id"
)

// Environment variables read by Start.
const (
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is blank and
// OTEL_RESOURCE_ATTRIBUTES names no service.
const DefaultServiceName = "buzz-relay"

// ScopeName is the instrumentation scope of the relay's tracer.
const ScopeName = "github.com/buzzrelay/buzz/relay"

// Outcome says what Start did, so the caller can log it once logging exists.
type Outcome int

// The three start-up outcomes the telemetry contract names.
const (
	Disabled Outcome = iota
	Enabled
	ExporterBuildFailed
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Disabled:
		return "disabled"
	case Enabled:
		return "enabled"
	case ExporterBuildFailed:
		return "exporter_build_failed"
	default:
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
}

// Tracing is what Start returns.
type Tracing struct {
	// Tracer is never nil: a no-op tracer unless Outcome is Enabled.
	Tracer trace.Tracer
	// Outcome is Enabled, Disabled or ExporterBuildFailed.
	Outcome Outcome
	// Err is set with ExporterBuildFailed; the caller logs it after logging
	// is set up, because Start runs before that.
	Err error
	// Warnings lists configuration problems that were worked around (bad
	// sampler, unparsable OTEL_RESOURCE_ATTRIBUTES, ignored URL path), for the
	// caller to log as warnings.
	Warnings []string
	// Endpoint is the host:port spans are exported to (empty when disabled).
	Endpoint string
	// Insecure reports plaintext gRPC to Endpoint.
	Insecure bool
	// Sampler describes the sampler in use (empty when disabled).
	Sampler string

	shutdown func(context.Context) error
}

// Start reads the environment through getenv (os.Getenv in production, a map
// in tests) and returns the tracing state. With OTEL_EXPORTER_OTLP_ENDPOINT
// unset or blank it is Disabled: no provider, no exporter, no connection
// attempt. The exporter connects lazily, so an unreachable collector does not
// fail start-up; export errors surface through the SDK's error handler.
func Start(ctx context.Context, getenv func(string) string, version string) *Tracing {
	t := &Tracing{Tracer: disabledTracer{}, Outcome: Disabled}
	raw := strings.TrimSpace(getenv(EnvEndpoint))
	if raw == "" {
		return t
	}

	ep, warn, err := parseEndpoint(raw)
	if err != nil {
		t.Outcome = ExporterBuildFailed
		t.Err = fmt.Errorf("telemetry: %s: %w", EnvEndpoint, err)
		return t
	}
	if warn != "" {
		t.Warnings = append(t.Warnings, warn)
	}

	exp, err := newExporter(ctx, ep)
	if err != nil {
		t.Outcome = ExporterBuildFailed
		t.Err = err
		return t
	}

	sampler, warns := samplerFromEnv(getenv)
	t.Warnings = append(t.Warnings, warns...)
	res, warns := buildResource(getenv, version)
	t.Warnings = append(t.Warnings, warns...)

	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
	)
	t.Tracer = tp.Tracer(ScopeName, trace.WithInstrumentationVersion(version))
	t.Outcome = Enabled
	t.Endpoint = ep.hostport
	t.Insecure = ep.insecure
	t.Sampler = sampler.Description()
	t.shutdown = tp.Shutdown
	return t
}

// newExporter builds the OTLP/gRPC exporter for an already validated
// endpoint. The exporter's own environment lookups would also pick up
// OTEL_EXPORTER_OTLP_ENDPOINT from the process, so the endpoint and transport
// security are always passed explicitly to keep getenv authoritative.
func newExporter(ctx context.Context, ep endpoint) (*otlptrace.Exporter, error) {
	scheme := "https://"
	if ep.insecure {
		scheme = "http://"
	}
	opts := []otlptracegrpc.Option{
		// WithEndpointURL fixes transport security from the scheme regardless
		// of OTEL_EXPORTER_OTLP_INSECURE; WithEndpoint then sets the target
		// verbatim, because WithEndpointURL silently keeps localhost:4317 when
		// it cannot parse its argument, and gRPC should refuse it instead.
		otlptracegrpc.WithEndpointURL(scheme + ep.hostport),
		otlptracegrpc.WithEndpoint(ep.hostport),
	}
	if ep.insecure {
		// Explicit credentials beat any OTEL_EXPORTER_OTLP_CERTIFICATE the
		// process environment carries, which would otherwise switch to TLS.
		opts = append(opts, otlptracegrpc.WithTLSCredentials(insecure.NewCredentials()))
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: build OTLP/gRPC exporter for %q: %w", ep.hostport, err)
	}
	return exp, nil
}

// Shutdown flushes buffered spans and stops the provider; it is a no-op when
// tracing is not enabled. Errors are for the caller to log as warnings.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shut down tracer provider: %w", err)
	}
	return nil
}
