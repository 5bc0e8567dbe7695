// Package config reads the sidecar's settings from the environment.
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Environment variables the sidecar reads.
const (
	EnvRelayAddr   = "BUZZ_RELAY_METRICS_ADDR"
	EnvMetricsPort = "BUZZ_METRICS_PORT"
)

// Defaults.
const (
	DefaultRelayAddr   = "127.0.0.1:9103"
	DefaultMetricsPort = 9102
)

// Variables returns the names of every environment variable the sidecar
// reads, for documentation and deployment checks.
func Variables() []string { return []string{EnvRelayAddr, EnvMetricsPort} }

// Config is the sidecar's settings.
type Config struct {
	// RelayAddr is the relay's metrics stream: "host:port" or
	// "unix:///path.sock".
	RelayAddr string
	// Port serves /metrics, health and self-metrics on every interface
	// (0 picks a free port, for tests).
	Port int
}

// ListenAddr is the HTTP listen address.
func (c Config) ListenAddr() string { return ":" + strconv.Itoa(c.Port) }

// Load reads the settings through getenv (os.Getenv in production). An
// empty variable means its default; a bad one is an error naming it.
func Load(getenv func(string) string) (Config, error) {
	c := Config{RelayAddr: DefaultRelayAddr, Port: DefaultMetricsPort}
	if v := strings.TrimSpace(getenv(EnvRelayAddr)); v != "" {
		if err := checkAddr(v); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", EnvRelayAddr, v, err)
		}
		c.RelayAddr = v
	}
	if v := strings.TrimSpace(getenv(EnvMetricsPort)); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return Config{}, fmt.Errorf("%s=%q: want a port number 0-65535", EnvMetricsPort, v)
		}
		c.Port = p
	}
	return c, nil
}

func checkAddr(v string) error {
	if path, ok := strings.CutPrefix(v, "unix://"); ok {
		if path == "" {
			return fmt.Errorf("empty socket path")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port or unix:///path: %w", err)
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("bad host %q", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}
