// Package config reads, defaults and validates every setting of the relay in
// one place. A bad value is an error naming the variable; nothing falls back
// to a default silently.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/nostr"
)

// Config is the relay's whole configuration.
type Config struct {
	BindAddr       string // BUZZ_BIND_ADDR: WebSocket, HTTP API, NIP-11
	HealthAddr     string // from BUZZ_HEALTH_PORT: /_liveness, /_readiness
	MetricsGRPC    string // BUZZ_METRICS_GRPC_ADDR: host:port or unix:///path
	DatabaseURL    string // DATABASE_URL: PostgreSQL; empty selects the embedded store
	DataDir        string // BUZZ_DATA_DIR
	DBPoolSize     int32  // BUZZ_DB_POOL_SIZE
	DBSchema       string // BUZZ_DB_SCHEMA: PostgreSQL schema, created if absent; empty uses the URL's search_path
	RedisURL       string // REDIS_URL: empty means single node
	RedisPoolSize  int    // BUZZ_REDIS_POOL_SIZE
	RedisNamespace string // BUZZ_REDIS_NAMESPACE
	RelayURL       string // RELAY_URL: what NIP-42 relay tags must name
	RelayKey       string // BUZZ_RELAY_PRIVATE_KEY (hex); empty: generated and kept in DataDir
	RelayName      string // BUZZ_RELAY_NAME (NIP-11)
	RelayDesc      string // BUZZ_RELAY_DESCRIPTION (NIP-11)

	MaxConnections     int           // BUZZ_MAX_CONNECTIONS
	MaxFrameBytes      int64         // BUZZ_MAX_FRAME_BYTES
	SendBuffer         int           // BUZZ_SEND_BUFFER
	SlowClientGrace    int           // BUZZ_SLOW_CLIENT_GRACE_LIMIT
	AuthTimeout        time.Duration // BUZZ_AUTH_TIMEOUT_SECS
	PubkeyAllowlist    bool          // BUZZ_PUBKEY_ALLOWLIST
	RequireMembership  bool          // BUZZ_REQUIRE_RELAY_MEMBERSHIP
	PoolMetricsEvery   time.Duration // BUZZ_POOL_METRICS_INTERVAL_SECS, clamped to >= 1 s
	MaxEventAge        time.Duration // BUZZ_MAX_EVENT_AGE_SECS
	MaxFuture          time.Duration // BUZZ_MAX_FUTURE_SECS
	DrainDelay         time.Duration // BUZZ_DRAIN_DELAY_SECS
	ShutdownDeadline   time.Duration // BUZZ_SHUTDOWN_TIMEOUT_SECS: the hard deadline
	AuditQueueWait     time.Duration // BUZZ_AUDIT_QUEUE_WAIT_MS: how long ingest waits on a full audit queue
	PingInterval       time.Duration // BUZZ_PING_INTERVAL_SECS (30)
	LogLevel           string        // BUZZ_LOG_LEVEL: debug, info, warn, error
	OTLPEndpoint       string        // OTEL_EXPORTER_OTLP_ENDPOINT (read by telemetry; listed here so it is documented)
	PoolMetricsClamped bool          // set when BUZZ_POOL_METRICS_INTERVAL_SECS was below 1 and raised
}

// Variables lists every environment variable the relay reads, so the deploy
// checks can prove the manifests set nothing the binary ignores.
var Variables = []string{
	"BUZZ_BIND_ADDR", "BUZZ_HEALTH_PORT", "BUZZ_METRICS_GRPC_ADDR",
	"DATABASE_URL", "BUZZ_DATA_DIR", "BUZZ_DB_POOL_SIZE", "BUZZ_DB_SCHEMA",
	"REDIS_URL", "BUZZ_REDIS_POOL_SIZE", "BUZZ_REDIS_NAMESPACE",
	"RELAY_URL", "BUZZ_RELAY_PRIVATE_KEY", "BUZZ_RELAY_NAME", "BUZZ_RELAY_DESCRIPTION",
	"BUZZ_MAX_CONNECTIONS", "BUZZ_MAX_FRAME_BYTES", "BUZZ_SEND_BUFFER",
	"BUZZ_SLOW_CLIENT_GRACE_LIMIT", "BUZZ_AUTH_TIMEOUT_SECS",
	"BUZZ_PUBKEY_ALLOWLIST", "BUZZ_REQUIRE_RELAY_MEMBERSHIP",
	"BUZZ_POOL_METRICS_INTERVAL_SECS", "BUZZ_MAX_EVENT_AGE_SECS", "BUZZ_MAX_FUTURE_SECS",
	"BUZZ_DRAIN_DELAY_SECS", "BUZZ_SHUTDOWN_TIMEOUT_SECS", "BUZZ_AUDIT_QUEUE_WAIT_MS",
	"BUZZ_PING_INTERVAL_SECS", "BUZZ_LOG_LEVEL",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
}

// Load builds the configuration from getenv (os.Getenv in production). All
// problems are reported together, each naming its variable.
func Load(getenv func(string) string) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		BindAddr:       p.addr("BUZZ_BIND_ADDR", "0.0.0.0:3000"),
		MetricsGRPC:    p.grpcAddr("BUZZ_METRICS_GRPC_ADDR", "127.0.0.1:9103"),
		DatabaseURL:    p.dbURL("DATABASE_URL"),
		DataDir:        p.str("BUZZ_DATA_DIR", "./data"),
		DBSchema:       p.identifier("BUZZ_DB_SCHEMA"),
		RedisURL:       p.redisURL("REDIS_URL"),
		RedisNamespace: p.namespace("BUZZ_REDIS_NAMESPACE", "default"),
		RelayURL:       p.relayURL("RELAY_URL", "ws://localhost:3000"),
		RelayKey:       p.hexKey("BUZZ_RELAY_PRIVATE_KEY"),
		RelayName:      p.str("BUZZ_RELAY_NAME", "buzz"),
		RelayDesc:      p.str("BUZZ_RELAY_DESCRIPTION", "buzz team chat relay"),
		OTLPEndpoint:   getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		LogLevel:       p.oneOf("BUZZ_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
	}
	port := p.integer("BUZZ_HEALTH_PORT", 8080, 0, 65535)
	c.HealthAddr = net.JoinHostPort("0.0.0.0", strconv.Itoa(int(port)))
	c.DBPoolSize = int32(p.integer("BUZZ_DB_POOL_SIZE", 20, 1, 10000))
	c.RedisPoolSize = int(p.integer("BUZZ_REDIS_POOL_SIZE", 16, 1, 10000))
	c.MaxConnections = int(p.integer("BUZZ_MAX_CONNECTIONS", 10000, 1, 10_000_000))
	c.MaxFrameBytes = p.integer("BUZZ_MAX_FRAME_BYTES", 524288, 1024, 64<<20)
	c.SendBuffer = int(p.integer("BUZZ_SEND_BUFFER", 1000, 1, 1_000_000))
	c.SlowClientGrace = int(p.integer("BUZZ_SLOW_CLIENT_GRACE_LIMIT", 15, 1, 1_000_000))
	c.AuthTimeout = p.seconds("BUZZ_AUTH_TIMEOUT_SECS", 5, 1, 3600)
	c.PubkeyAllowlist = p.boolean("BUZZ_PUBKEY_ALLOWLIST", false)
	c.RequireMembership = p.boolean("BUZZ_REQUIRE_RELAY_MEMBERSHIP", false)
	// The interval is clamped, not rejected, as the seed specifies: a 0 or a
	// negative value must neither crash the sampler nor stop start-up.
	interval := p.integer("BUZZ_POOL_METRICS_INTERVAL_SECS", 10, -1<<31, 86400)
	if interval < 1 {
		interval = 1
		c.PoolMetricsClamped = true
	}
	c.PoolMetricsEvery = time.Duration(interval) * time.Second
	c.MaxEventAge = p.seconds("BUZZ_MAX_EVENT_AGE_SECS", 900, 1, 10*365*86400)
	c.MaxFuture = p.seconds("BUZZ_MAX_FUTURE_SECS", 900, 1, 86400)
	c.DrainDelay = p.seconds("BUZZ_DRAIN_DELAY_SECS", 5, 0, 3600)
	c.ShutdownDeadline = p.seconds("BUZZ_SHUTDOWN_TIMEOUT_SECS", 30, 1, 3600)
	c.AuditQueueWait = time.Duration(p.integer("BUZZ_AUDIT_QUEUE_WAIT_MS", 5000, 0, 600000)) * time.Millisecond
	c.PingInterval = p.seconds("BUZZ_PING_INTERVAL_SECS", 30, 1, 3600)
	if c.ShutdownDeadline <= c.DrainDelay {
		p.fail("BUZZ_SHUTDOWN_TIMEOUT_SECS", fmt.Sprintf("must be greater than BUZZ_DRAIN_DELAY_SECS (%s)", c.DrainDelay))
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

type parser struct {
	getenv func(string) string
	errs   []error
}

// Error is a configuration problem with the variable that caused it.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return e.Variable + ": " + e.Problem }

func (p *parser) fail(name, problem string) {
	p.errs = append(p.errs, &Error{Variable: name, Problem: problem})
}

func (p *parser) str(name, def string) string {
	if v := p.getenv(name); v != "" {
		return v
	}
	return def
}

func (p *parser) integer(name string, def, min, max int64) int64 {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not an integer", v))
		return def
	}
	if n < min || n > max {
		p.fail(name, fmt.Sprintf("%d is outside %d..%d", n, min, max))
		return def
	}
	return n
}

func (p *parser) seconds(name string, def, min, max int64) time.Duration {
	return time.Duration(p.integer(name, def, min, max)) * time.Second
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	p.fail(name, fmt.Sprintf("%q is not a boolean (true/false)", v))
	return def
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := p.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
	return def
}

func (p *parser) addr(name, def string) string {
	v := p.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
		p.fail(name, fmt.Sprintf("%q is not host:port", v))
	}
	return v
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func (p *parser) grpcAddr(name, def string) string {
	v := p.str(name, def)
	if path, ok := strings.CutPrefix(v, "unix://"); ok {
		if path == "" || !strings.HasPrefix(path, "/") {
			p.fail(name, fmt.Sprintf("%q: a unix socket needs an absolute path (unix:///path.sock)", v))
		}
		return v
	}
	if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
		p.fail(name, fmt.Sprintf("%q is neither host:port nor unix:///path", v))
	}
	return v
}

func (p *parser) dbURL(name string) string {
	v := p.getenv(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		p.fail(name, "must be a postgres:// or postgresql:// URL")
	}
	return v
}

func (p *parser) redisURL(name string) string {
	v := p.getenv(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		p.fail(name, "must be a redis:// or rediss:// URL with a host")
	}
	return v
}

func (p *parser) relayURL(name, def string) string {
	v := p.str(name, def)
	// NIP-42 relay tags are compared with this URL in its normalized form,
	// so one that cannot be normalized would refuse every AUTH.
	norm, err := nostr.NormalizeRelayURL(v)
	switch {
	case err != nil:
		p.fail(name, err.Error())
	case !strings.HasPrefix(norm, "ws://") && !strings.HasPrefix(norm, "wss://"):
		p.fail(name, fmt.Sprintf("%q must be a ws:// or wss:// URL", v))
	}
	return v
}

func (p *parser) namespace(name, def string) string {
	v := p.str(name, def)
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			p.fail(name, fmt.Sprintf("%q may hold only letters, digits, '-', '_' and '.'", v))
			break
		}
	}
	if len(v) > 64 {
		p.fail(name, "must be at most 64 characters")
	}
	return v
}

func (p *parser) identifier(name string) string {
	v := p.getenv(name)
	for i, r := range v {
		if !(r >= 'a' && r <= 'z' || r == '_' || (i > 0 && r >= '0' && r <= '9')) || i >= 63 {
			p.fail(name, fmt.Sprintf("%q must be a lowercase SQL identifier (a-z, 0-9, _; at most 63)", v))
			return ""
		}
	}
	return v
}

func (p *parser) hexKey(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return ""
	}
	v = strings.ToLower(v)
	if _, err := nostr.ParsePrivateKeyHex(v); err != nil {
		// Never echo the value, nor an error that might: it is a secret.
		p.fail(name, "must be 64 hex characters encoding a valid secp256k1 private key")
		return ""
	}
	return v
}
