package check

import (
	"os"
	"strings"
	"testing"
)

func loadCompose(t *testing.T) *Compose {
	t.Helper()
	c, err := LoadCompose(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestComposeMatchesManifests(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"postgres", "redis", "jaeger", "relay-a", "relay-b", "sidecar-a", "sidecar-b"} {
		if c.Services[want] == nil {
			t.Errorf("no service %s", want)
		}
	}
	noErrors(t, "compose", CheckCompose(c, loadManifests(t, baseDir), fixtureExpect(t), repoRoot))
}

func TestComposeDecodesStrictly(t *testing.T) {
	data, err := os.ReadFile(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ old, new string }{
		"unknown service key": {"    network_mode: service:relay-a\n", "    network_mode: service:relay-a\n    netwrok_mode: host\n"},
		"wrong type":          {"    network_mode: service:relay-a\n", "    network_mode: [service:relay-a]\n"},
		"duplicate key":       {"    read_only: true\n", "    read_only: true\n    read_only: false\n"},
	} {
		mutated := strings.Replace(string(data), c.old, c.new, 1)
		if mutated == string(data) {
			t.Fatalf("%s: %q not found", name, c.old)
		}
		var out Compose
		if err := decodeStrict([]byte(mutated), &out); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestComposeChecksCatchMistakes(t *testing.T) {
	e := fixtureExpect(t)
	m := loadManifests(t, baseDir)
	for _, mu := range []struct {
		name string
		edit func(c *Compose)
		want []string
	}{
		{"sidecar outside the relay's namespace", func(c *Compose) { c.Services["sidecar-a"].NetworkMode = "" },
			[]string{"sidecar-a: network_mode"}},
		{"two sidecars on one relay", func(c *Compose) { c.Services["sidecar-b"].NetworkMode = "service:relay-a" },
			[]string{"has two sidecars"}},
		{"sidecar dials elsewhere", func(c *Compose) { c.Services["sidecar-b"].Environment[VarRelayMetrics] = "127.0.0.1:9000" },
			[]string{"sidecar-b dials"}},
		{"unknown variable", func(c *Compose) { c.Services["relay-b"].Environment["BUZZ_TYPO"] = "1" },
			[]string{"relay-b sets BUZZ_TYPO"}},
		{"sidecar given a relay variable", func(c *Compose) { c.Services["sidecar-a"].Environment["BUZZ_LOG_LEVEL"] = "info" },
			[]string{"sidecar-a sets BUZZ_LOG_LEVEL"}},
		{"port differs from the pod", func(c *Compose) { c.Services["relay-a"].Environment[VarHealthPort] = "8081" },
			[]string{"relay-a: BUZZ_HEALTH_PORT=\"8081\""}},
		{"metrics port not published", func(c *Compose) { c.Services["relay-b"].Ports = c.Services["relay-b"].Ports[:2] },
			[]string{"relay-b does not publish container port 9102"}},
		{"sidecar publishes", func(c *Compose) { c.Services["sidecar-a"].Ports = []string{"9300:9102"} },
			[]string{"publish its ports on relay-a"}},
		{"host port clash", func(c *Compose) { c.Services["relay-b"].Ports[0] = "127.0.0.1:3001:3000" },
			[]string{"host port 127.0.0.1:3001"}},
		{"relay URL names the wrong port", func(c *Compose) { c.Services["relay-b"].Environment["RELAY_URL"] = "ws://localhost:3001" },
			[]string{"RELAY_URL"}},
		{"database host missing", func(c *Compose) {
			c.Services["relay-a"].Environment[VarDatabaseURL] = "postgres://buzz:buzz@db:5432/buzz"
		}, []string{"names host \"db\""}},
		{"nodes on different Redis", func(c *Compose) { c.Services["relay-b"].Environment[VarRedisURL] = "redis://redis:6379/1" },
			[]string{"does not share"}},
		{"no healthy wait", func(c *Compose) { delete(c.Services["relay-a"].DependsOn, "postgres") },
			[]string{"must depend on postgres being healthy"}},
		{"OTLP port not served", func(c *Compose) {
			c.Services["relay-a"].Environment[VarOTLPEndpoint] = "http://jaeger:4318"
		}, []string{"port 4318 is not a port of jaeger"}},
		{"stop grace too short", func(c *Compose) { c.Services["relay-b"].StopGracePeriod = "10s" },
			[]string{"stop_grace_period 10s"}},
		{"writable root", func(c *Compose) { c.Services["relay-a"].ReadOnly = false }, []string{"read_only"}},
		{"data dir not writable", func(c *Compose) { c.Services["relay-a"].Tmpfs = nil }, []string{"not on a tmpfs"}},
		{"other image", func(c *Compose) { c.Services["sidecar-b"].Image = "ghcr.io/buzzrelay/sidecar:local" },
			[]string{"want two relay nodes and two sidecars"}},
		{"wrong Dockerfile", func(c *Compose) { c.Services["sidecar-a"].Build.Dockerfile = "deploy/relay.Dockerfile" },
			[]string{"sidecar-a: dockerfile"}},
		{"wrong context", func(c *Compose) { c.Services["relay-a"].Build.Context = "." },
			[]string{"build context"}},
		{"other subcommand", func(c *Compose) { c.Services["relay-b"].Command = []string{"migrate"} },
			[]string{"relay relay-b runs"}},
		{"undeclared volume", func(c *Compose) { delete(c.Volumes, "pgdata") }, []string{"undeclared volume pgdata"}},
	} {
		t.Run(mu.name, func(t *testing.T) {
			c := loadCompose(t)
			mu.edit(c)
			wantError(t, CheckCompose(c, m, e, repoRoot), mu.want...)
		})
	}
}
