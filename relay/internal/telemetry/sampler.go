package telemetry

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// samplerFromEnv mirrors the SDK's OTEL_TRACES_SAMPLER handling but reads
// through getenv and reports problems instead of sending them to the global
// error handler. The result is always usable: an unknown sampler becomes the
// default (parentbased_always_on) and a bad ratio becomes 1.0.
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, []string) {
	name := strings.ToLower(strings.TrimSpace(getenv(EnvSampler)))
	arg := strings.TrimSpace(getenv(EnvSamplerArg))
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		ratio, warn := parseRatio(arg)
		return sdktrace.TraceIDRatioBased(ratio), warn
	case "parentbased_traceidratio":
		ratio, warn := parseRatio(arg)
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), warn
	default:
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), []string{
			fmt.Sprintf("%s %q is not supported; using parentbased_always_on", EnvSampler, name),
		}
	}
}

// parseRatio reads OTEL_TRACES_SAMPLER_ARG; empty means 1.0 as the
// specification says, anything outside [0, 1] or unparsable also means 1.0
// but with a warning.
func parseRatio(arg string) (float64, []string) {
	if arg == "" {
		return 1, nil
	}
	v, err := strconv.ParseFloat(arg, 64)
	if err != nil || v < 0 || v > 1 || math.IsNaN(v) {
		return 1, []string{fmt.Sprintf("%s %q is not a ratio in [0, 1]; using 1.0", EnvSamplerArg, arg)}
	}
	return v, nil
}
