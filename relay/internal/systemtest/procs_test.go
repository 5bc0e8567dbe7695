package systemtest

import (
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
)

// startRelay runs a relay on the embedded store with the pool sampler at its
// fastest; extra overrides or adds variables. The metrics stream gets a
// fixed port so the sidecar finds a restarted relay, and the relay runs
// without a subcommand, as the container image starts it.
func startRelay(t testing.TB, extra map[string]string) *proctest.Relay {
	t.Helper()
	vars := map[string]string{
		"BUZZ_METRICS_GRPC_ADDR":          fmt.Sprintf("127.0.0.1:%d", relaytest.FreePort(t)),
		"BUZZ_POOL_METRICS_INTERVAL_SECS": "1",
		"BUZZ_DRAIN_DELAY_SECS":           "0",
	}
	maps.Copy(vars, extra)
	return proctest.StartRelay(t, relayBin, vars, proctest.Options{})
}

// rssKB reads the process's resident set size from /proc.
func rssKB(t testing.TB, p *proctest.Proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}
