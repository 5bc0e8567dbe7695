package proctest

import (
	"fmt"
	"maps"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// Relay is a buzz-relay process. Its WebSocket port, data directory and
// other settings are fixed when it is first started, so Restart brings it
// back where clients expect it.
type Relay struct {
	*Proc
	t    testing.TB
	bin  string
	opts Options

	URL     string // ws://127.0.0.1:port, also its RELAY_URL
	HTTP    string // http:// base of the same port
	DataDir string // BUZZ_DATA_DIR, the embedded store's directory
	// Health and MetricsGRPC are the health listener and metrics stream
	// addresses from the "relay listening" line of the latest start.
	Health      string
	MetricsGRPC string
}

// relayEnv is what every test relay needs: a free loopback port for
// WebSocket and HTTP with RELAY_URL to match, OS-chosen ports for the health
// listener and the metrics stream, and a data directory of the test's own.
func relayEnv(t testing.TB) map[string]string {
	t.Helper()
	port := relaytest.FreePort(t)
	return map[string]string{
		"BUZZ_BIND_ADDR":         fmt.Sprintf("127.0.0.1:%d", port),
		"RELAY_URL":              fmt.Sprintf("ws://127.0.0.1:%d", port),
		"BUZZ_HEALTH_PORT":       "0",
		"BUZZ_METRICS_GRPC_ADDR": "127.0.0.1:0",
		"BUZZ_DATA_DIR":          t.TempDir(),
	}
}

// StartRelay runs the buzz-relay binary bin with relayEnv overridden by env
// and waits for its "relay listening" line. o.Env is added after env;
// o.Name defaults to "buzz-relay" and o.Ready to "relay listening"; o.Args
// are passed as given (the relay serves without a subcommand too).
func StartRelay(t testing.TB, bin string, env map[string]string, o Options) *Relay {
	t.Helper()
	vars := relayEnv(t)
	maps.Copy(vars, env)
	if o.Name == "" {
		o.Name = "buzz-relay"
	}
	if o.Ready == "" {
		o.Ready = "relay listening"
	}
	extra := o.Env
	o.Env = nil
	for k, v := range vars {
		o.Env = append(o.Env, k+"="+v)
	}
	o.Env = append(o.Env, extra...)
	r := &Relay{t: t, bin: bin, opts: o, URL: vars["RELAY_URL"], HTTP: "http://" + vars["BUZZ_BIND_ADDR"], DataDir: vars["BUZZ_DATA_DIR"]}
	r.Restart()
	return r
}

// Restart runs the relay again with the same settings, after it exited or
// was killed, and waits until it listens.
func (r *Relay) Restart() {
	r.t.Helper()
	p, line := Start(r.t, r.bin, r.opts)
	r.Proc = p
	var ok1, ok2 bool
	r.Health, ok1 = line["health_addr"].(string)
	r.MetricsGRPC, ok2 = line["metrics_grpc_addr"].(string)
	if !ok1 || !ok2 {
		r.t.Fatalf("relay listening line lacks health_addr or metrics_grpc_addr: %v", line)
	}
}
