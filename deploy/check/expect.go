package check

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Binary is what the checks know about one of the pod's two programs.
type Binary struct {
	Name      string          // executable: buzz-relay, statsd-sidecar
	Container string          // its container name in the pod
	Image     string          // image repository, without tag
	Vars      map[string]bool // every variable it reads (its `env` subcommand)
	Liveness  []string        // paths liveness and startup probes may use
	Readiness []string        // paths readiness probes may use
}

// Expect names the two programs of the pod.
type Expect struct {
	Relay, Sidecar Binary
}

// Variables the checks read values of. Each must be set explicitly in the
// deploy files: the checks compare numbers, not defaults they would have to
// copy from the binaries.
const (
	VarBindAddr      = "BUZZ_BIND_ADDR"
	VarHealthPort    = "BUZZ_HEALTH_PORT"
	VarMetricsGRPC   = "BUZZ_METRICS_GRPC_ADDR"
	VarDataDir       = "BUZZ_DATA_DIR"
	VarDrainDelay    = "BUZZ_DRAIN_DELAY_SECS"
	VarShutdown      = "BUZZ_SHUTDOWN_TIMEOUT_SECS"
	VarRelayMetrics  = "BUZZ_RELAY_METRICS_ADDR"
	VarMetricsPort   = "BUZZ_METRICS_PORT"
	VarOTLPEndpoint  = "OTEL_EXPORTER_OTLP_ENDPOINT"
	VarDatabaseURL   = "DATABASE_URL"
	VarRedisURL      = "REDIS_URL"
	VarRelayKey      = "BUZZ_RELAY_PRIVATE_KEY"
	metricsPath      = "/metrics"
	datadogHostToken = "%%host%%"
)

// SecretVars must come from a Secret, never from a ConfigMap or a literal in
// a Kubernetes manifest.
var SecretVars = []string{VarDatabaseURL, VarRedisURL, VarRelayKey}

// splitImage cuts "repo:tag" (a registry port is not a tag).
func splitImage(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		return image[:colon], image[colon+1:]
	}
	return image, ""
}

// addrPort returns the port of host:port.
func addrPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// isLoopback says whether a gRPC address stays inside the host or pod: a
// loopback host:port, or a Unix socket.
func isLoopback(addr string) bool {
	if strings.HasPrefix(addr, "unix://") {
		return true
	}
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func seconds(v EnvVar, ok bool, name string) (int64, error) {
	if !ok || !v.Known {
		return 0, fmt.Errorf("%s must be set explicitly", name)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number of seconds", name, v.Value)
	}
	return n, nil
}
