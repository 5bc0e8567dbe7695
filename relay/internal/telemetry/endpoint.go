package telemetry

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Default collector ports when the endpoint names none: the OTLP/gRPC port
// for plaintext, the HTTPS port for TLS (hosted collectors listen there).
const (
	defaultPlainPort = "4317"
	defaultTLSPort   = "443"
)

// errEndpoint marks every endpoint validation failure.
var errEndpoint = errors.New("malformed OTLP endpoint")

// endpoint is a validated OTLP/gRPC target.
type endpoint struct {
	hostport string
	insecure bool
}

// parseEndpoint validates OTEL_EXPORTER_OTLP_ENDPOINT ourselves because the
// gRPC exporter accepts almost anything and only fails when exporting, which
// would hide a typo behind an "enabled" start-up. It returns a warning for
// parts that are accepted but ignored.
func parseEndpoint(raw string) (endpoint, string, error) {
	insecure := true
	withScheme := raw
	if !strings.Contains(raw, "://") {
		// Bare host[:port]: url.Parse would read "host:4317" as scheme "host".
		withScheme = "http://" + raw
	}
	u, err := url.Parse(withScheme)
	if err != nil {
		return endpoint{}, "", fmt.Errorf("%w %q: %w", errEndpoint, raw, err)
	}
	port := defaultPlainPort
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		insecure = false
		port = defaultTLSPort
	default:
		return endpoint{}, "", fmt.Errorf("%w %q: scheme %q not supported (use http, https or host:port)", errEndpoint, raw, u.Scheme)
	}
	if u.User != nil {
		return endpoint{}, "", fmt.Errorf("%w %q: user info not supported (use OTEL_EXPORTER_OTLP_HEADERS)", errEndpoint, raw)
	}
	host := u.Hostname()
	if host == "" {
		return endpoint{}, "", fmt.Errorf("%w %q: no host", errEndpoint, raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return endpoint{}, "", fmt.Errorf("%w %q: port %q out of range", errEndpoint, raw, p)
		}
		port = p
	} else if strings.HasSuffix(u.Host, ":") {
		return endpoint{}, "", fmt.Errorf("%w %q: empty port", errEndpoint, raw)
	}
	var warn string
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		warn = fmt.Sprintf("%s %q: path, query and fragment are ignored for OTLP/gRPC", EnvEndpoint, raw)
	}
	return endpoint{hostport: net.JoinHostPort(host, port), insecure: insecure}, warn, nil
}
