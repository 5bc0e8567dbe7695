// Package telemetry starts the relay's OpenTelemetry tracing and carries
// trace context across process boundaries (Redis pub/sub messages).
//
// Tracing is opt-in: OTEL_EXPORTER_OTLP_ENDPOINT gates it entirely. When it is
// unset or blank, Start builds no provider and no exporter, dials nothing, and
// hands back a tracer whose spans never record. Nothing here touches the
// OpenTelemetry globals (no otel.SetTracerProvider, no global propagator):
// callers receive Tracing.Tracer and pass it explicitly, so tests and the
// production binary cannot leak tracers into each other.
//
// # Environment
//
// All variables below are read through the getenv function given to Start.
//
//   - OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/gRPC collector. "http://host[:port]"
//     and a bare "host[:port]" use plaintext gRPC; "https://host[:port]" uses
//     TLS with the system roots. A missing port means 4317 for plaintext and
//     443 for https. A URL path is ignored (gRPC has none) and reported as a
//     warning. Any other scheme, user info, an empty host or a bad port makes
//     Start return ExporterBuildFailed. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
//     deliberately not consulted: one variable gates and addresses tracing.
//   - OTEL_SERVICE_NAME: service.name; blank means "buzz-relay".
//   - OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2" with percent-encoded values. As the
//     OpenTelemetry specification requires, OTEL_SERVICE_NAME wins over a
//     service.name given here, and a value that fails to parse is discarded
//     as a whole (with a warning) rather than applied in part.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: always_on, always_off,
//     traceidratio, parentbased_always_on (default), parentbased_always_off,
//     parentbased_traceidratio. An unknown sampler falls back to the default;
//     a bad ratio falls back to 1.0. Both are reported in Tracing.Warnings.
//
// The exporter itself still reads its secondary settings
// (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, ...) and
// the batch processor its OTEL_BSP_* settings from the process environment,
// as the SDK does; those never decide whether tracing is on.
//
// # Hot-path pattern
//
// Per-message spans must cost nothing when tracing is off. The disabled tracer
// returns the caller's context unchanged and a shared non-recording span, so
// Start+End allocate nothing — but span options and attribute lists are
// variadic slices that escape through the interface call and allocate even
// when the span is discarded. So start spans without options and set
// attributes only when the span records:
//
//	ctx, span := tr.Start(ctx, telemetry.SpanEvent)
//	if span.IsRecording() {
//		span.SetAttributes(
//			attribute.String(telemetry.AttrConnID, connID),
//			attribute.String(telemetry.AttrEventID, ev.ID),
//			attribute.Int(telemetry.AttrKind, ev.Kind),
//		)
//	}
//	defer span.End()
//
// Avoid trace.WithAttributes(...) and trace.WithSpanKind(...) as Start
// options on hot paths, and build store/Redis span names as constant
// expressions (telemetry.SpanStorePrefix + "InsertEvent") so no string is
// concatenated at run time. BenchmarkDisabledSpan measures the pattern
// (0 allocs/op) and BenchmarkDisabledSpanWithAttributesOption the
// allocating alternative.
//
// Work handed to another goroutine keeps its parent by starting its span from
// the context the parent span returned; across Redis, InjectMap and ExtractMap
// carry a W3C traceparent/tracestate in the message. HTTPHandler gives the
// HTTP API its server spans, and ErrorHandler can route the SDK's own errors
// to slog if main chooses to install it.
package telemetry
