package config

import (
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.RelayAddr != "127.0.0.1:9103" || c.Port != 9102 || c.ListenAddr() != ":9102" {
		t.Fatalf("%+v %v", c, err)
	}
	if !slices.Equal(Variables(), []string{"BUZZ_RELAY_METRICS_ADDR", "BUZZ_METRICS_PORT"}) {
		t.Fatalf("variables %v", Variables())
	}
}

func TestValues(t *testing.T) {
	for _, addr := range []string{"unix:///run/buzz/metrics.sock", "localhost:1", "[::1]:9103", "10.0.0.1:65535"} {
		c, err := Load(env(map[string]string{EnvRelayAddr: addr, EnvMetricsPort: "0"}))
		if err != nil || c.RelayAddr != addr || c.Port != 0 {
			t.Errorf("%s: %+v %v", addr, c, err)
		}
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct{ key, val string }{
		{EnvRelayAddr, "unix://"}, {EnvRelayAddr, "nohost"}, {EnvRelayAddr, "h:0"}, {EnvRelayAddr, "h:http"},
		{EnvRelayAddr, "a/b:1"}, {EnvMetricsPort, "x"}, {EnvMetricsPort, "-1"}, {EnvMetricsPort, "65536"},
	}
	for _, c := range cases {
		_, err := Load(env(map[string]string{c.key: c.val}))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%q: err %v", c.key, c.val, err)
		}
	}
}
