package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BindAddr != "0.0.0.0:3000" || c.HealthAddr != "0.0.0.0:8080" || c.MetricsGRPC != "127.0.0.1:9103" {
		t.Errorf("addresses: %+v", c)
	}
	if c.DatabaseURL != "" || c.DataDir != "./data" || c.DBPoolSize != 20 || c.RedisPoolSize != 16 || c.RedisNamespace != "default" {
		t.Errorf("storage defaults: %+v", c)
	}
	if c.RelayURL != "ws://localhost:3000" || c.MaxConnections != 10000 || c.MaxFrameBytes != 524288 ||
		c.SendBuffer != 1000 || c.SlowClientGrace != 15 || c.AuthTimeout != 5*time.Second ||
		c.PubkeyAllowlist || c.RequireMembership || c.PoolMetricsEvery != 10*time.Second ||
		c.MaxEventAge != 900*time.Second || c.MaxFuture != 900*time.Second || c.DrainDelay != 5*time.Second ||
		c.ShutdownDeadline != 30*time.Second || c.PingInterval != 30*time.Second {
		t.Errorf("limits: %+v", c)
	}
}

func TestPoolIntervalClamped(t *testing.T) {
	for _, v := range []string{"0", "-5"} {
		c, err := Load(env(map[string]string{"BUZZ_POOL_METRICS_INTERVAL_SECS": v}))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if c.PoolMetricsEvery != time.Second || !c.PoolMetricsClamped {
			t.Errorf("%s: interval %s clamped=%v", v, c.PoolMetricsEvery, c.PoolMetricsClamped)
		}
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"BUZZ_BIND_ADDR":                  "nonsense",
		"BUZZ_HEALTH_PORT":                "70000",
		"BUZZ_METRICS_GRPC_ADDR":          "unix://relative.sock",
		"DATABASE_URL":                    "mysql://x",
		"REDIS_URL":                       "http://x",
		"RELAY_URL":                       "http://example.com",
		"BUZZ_RELAY_PRIVATE_KEY":          "abc",
		"BUZZ_MAX_CONNECTIONS":            "many",
		"BUZZ_MAX_FRAME_BYTES":            "10",
		"BUZZ_SEND_BUFFER":                "0",
		"BUZZ_SLOW_CLIENT_GRACE_LIMIT":    "1.5",
		"BUZZ_AUTH_TIMEOUT_SECS":          "-1",
		"BUZZ_PUBKEY_ALLOWLIST":           "maybe",
		"BUZZ_REQUIRE_RELAY_MEMBERSHIP":   "2",
		"BUZZ_POOL_METRICS_INTERVAL_SECS": "ten",
		"BUZZ_REDIS_NAMESPACE":            "a b",
		"BUZZ_LOG_LEVEL":                  "loud",
		"BUZZ_SHUTDOWN_TIMEOUT_SECS":      "2",
	}
	for name, value := range cases {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil {
			t.Errorf("%s=%q accepted", name, value)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != name {
			t.Errorf("%s=%q: error %q does not name the variable", name, value, err)
		}
		if name == "BUZZ_RELAY_PRIVATE_KEY" && strings.Contains(err.Error(), value) {
			t.Errorf("secret echoed in error: %v", err)
		}
	}
}

// Values that look right but the code using them would refuse at run time.
func TestUnusableValuesRefused(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"RELAY_URL", "ws://user@relay.example.com"},
		{"RELAY_URL", "wss://relay.example.com:0"},
		{"BUZZ_RELAY_PRIVATE_KEY", strings.Repeat("f", 64)}, // not below the group order
		{"BUZZ_RELAY_PRIVATE_KEY", strings.Repeat("0", 64)},
	} {
		_, err := Load(env(map[string]string{tc.name: tc.value}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != tc.name {
			t.Errorf("%s=%q: error %v does not name the variable", tc.name, tc.value, err)
		}
	}
	c, err := Load(env(map[string]string{"RELAY_URL": "WSS://Relay.Example.com", "BUZZ_RELAY_PRIVATE_KEY": strings.Repeat("0", 63) + "1"}))
	if err != nil {
		t.Fatalf("good values refused: %v", err)
	}
	if c.RelayURL != "WSS://Relay.Example.com" || c.RelayKey != strings.Repeat("0", 63)+"1" {
		t.Errorf("values changed: %q %q", c.RelayURL, c.RelayKey)
	}
}

func TestVariablesCoverEverythingLoadReads(t *testing.T) {
	read := map[string]bool{}
	_, _ = Load(func(k string) string { read[k] = true; return "" })
	listed := map[string]bool{}
	for _, v := range Variables {
		listed[v] = true
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("Load reads %s but Variables does not list it", k)
		}
	}
}
