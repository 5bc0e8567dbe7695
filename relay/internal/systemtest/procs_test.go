package systemtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buzzrelay/buzz/relay/internal/relaytest"
)

// proc is a child process whose stdout is JSON log lines. It keeps the last
// lines for failure messages and signals the first line with a given msg.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	exited chan struct{}

	mu   sync.Mutex
	tail []string
}

const tailLines = 40

// startProc runs bin with env added to the test's environment and waits up
// to 30 s for a log line whose msg is ready; it returns that line.
func startProc(t testing.TB, name, bin string, env []string, ready string) (*proc, map[string]any) {
	t.Helper()
	p := &proc{t: t, name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), env...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			p.mu.Lock()
			p.tail = append(p.tail, sc.Text())
			if len(p.tail) > tailLines {
				p.tail = p.tail[len(p.tail)-tailLines:]
			}
			p.mu.Unlock()
			var line map[string]any
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == ready {
				lines <- line
				sent = true
			}
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	select {
	case line := <-lines:
		return p, line
	case <-p.exited:
		t.Fatalf("%s exited during start-up; log tail:\n%s", name, p.logTail())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log %q within 30 s; log tail:\n%s", name, ready, p.logTail())
	}
	return nil, nil
}

// kill ends the process with SIGKILL (which also ends a stopped one) and
// waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// rssKB reads the process's resident set size from /proc.
func (p *proc) rssKB() int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				p.t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return n
		}
	}
	p.t.Fatal("no VmRSS in /proc status")
	return 0
}

// relayProc is a buzz-relay process. Its ports and data directory are fixed
// when it is first started, so a restart comes back where the sidecar and
// clients expect it.
type relayProc struct {
	*proc
	t       testing.TB
	env     []string
	URL     string // ws://, also RELAY_URL
	HTTP    string // http:// base of the same port
	GRPC    string // metrics stream address
	DataDir string // the embedded store's directory
	healthz string
}

// startRelay runs a relay on the embedded store with the pool sampler at its
// fastest; extra overrides or adds variables.
func startRelay(t testing.TB, extra map[string]string) *relayProc {
	t.Helper()
	port := relaytest.FreePort(t)
	vars := map[string]string{
		"BUZZ_BIND_ADDR":                  fmt.Sprintf("127.0.0.1:%d", port),
		"RELAY_URL":                       fmt.Sprintf("ws://127.0.0.1:%d", port),
		"BUZZ_HEALTH_PORT":                "0",
		"BUZZ_METRICS_GRPC_ADDR":          fmt.Sprintf("127.0.0.1:%d", relaytest.FreePort(t)),
		"BUZZ_DATA_DIR":                   t.TempDir(),
		"BUZZ_POOL_METRICS_INTERVAL_SECS": "1",
		"BUZZ_DRAIN_DELAY_SECS":           "0",
	}
	for k, v := range extra {
		vars[k] = v
	}
	r := &relayProc{t: t, URL: vars["RELAY_URL"], HTTP: "http://" + vars["BUZZ_BIND_ADDR"], DataDir: vars["BUZZ_DATA_DIR"]}
	for k, v := range vars {
		r.env = append(r.env, k+"="+v)
	}
	r.start()
	return r
}

// start runs (or re-runs) the process with the same settings.
func (r *relayProc) start() {
	r.t.Helper()
	p, line := startProc(r.t, "buzz-relay", relayBin, r.env, "relay listening")
	r.proc = p
	r.GRPC, _ = line["metrics_grpc_addr"].(string)
	h, _ := line["health_addr"].(string)
	r.healthz = "http://" + loopback(h)
}

// loopback turns a listener address such as "[::]:8080" into one a client
// on this host can dial.
func loopback(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}
