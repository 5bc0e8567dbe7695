package telemetry

import (
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Resource builds the trace resource from the environment without a
// service.version (exported for tests; Start adds the build's version).
func Resource(getenv func(string) string) *resource.Resource {
	res, _ := buildResource(getenv, "")
	return res
}

// buildResource applies, lowest to highest precedence: the SDK's telemetry.*
// attributes and the buzz-relay default name, OTEL_RESOURCE_ATTRIBUTES, then
// OTEL_SERVICE_NAME (the specification's order) and the build's version. It
// parses the variables itself because resource.WithFromEnv reads os.Getenv.
func buildResource(getenv func(string) string, version string) (*resource.Resource, []string) {
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("opentelemetry"),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKVersion(sdk.Version()),
		semconv.ServiceName(DefaultServiceName),
	}
	var warns []string
	envAttrs, err := parseResourceAttributes(getenv(EnvResourceAttributes))
	if err != nil {
		warns = append(warns, fmt.Sprintf("%s discarded: %v", EnvResourceAttributes, err))
	}
	attrs = append(attrs, envAttrs...)
	if name := strings.TrimSpace(getenv(EnvServiceName)); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	// attribute.NewSet, used by NewWithAttributes, keeps the last value given
	// for a key, which is what makes the order above the precedence.
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...), warns
}

// parseResourceAttributes reads the W3C-baggage-like "k=v,k2=v2" list with
// percent-encoded values. Following the specification, any malformed entry
// discards the whole value: applying part of a broken setting would label
// traces in ways nobody asked for.
func parseResourceAttributes(s string) ([]attribute.KeyValue, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var attrs []attribute.KeyValue
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue // tolerate "a=1,,b=2" and a trailing comma
		}
		k, v, ok := strings.Cut(pair, "=")
		key := strings.TrimSpace(k)
		if !ok || key == "" {
			return nil, fmt.Errorf("entry %q is not key=value", pair)
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		attrs = append(attrs, attribute.String(key, val))
	}
	return attrs, nil
}
