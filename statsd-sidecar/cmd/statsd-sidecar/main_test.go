package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metricsv1 "github.com/buzzrelay/buzz/proto/buzz/metrics/v1"
	"github.com/buzzrelay/buzz/statsd-sidecar/internal/testrelay"
)

// binDir holds the binary built once for all tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sidecar-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the sidecar (once) into a temporary directory, as the
// relay's golden tests will too.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "statsd-sidecar")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type sidecar struct {
	cmd  *exec.Cmd
	addr string
}

// startSidecar runs the binary against relayAddr on a free port and waits for
// its "listening" log line.
func startSidecar(t *testing.T, bin, relayAddr string) *sidecar {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BUZZ_RELAY_METRICS_ADDR="+relayAddr, "BUZZ_METRICS_PORT=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrc <- line.Addr
			}
		}
	}()
	select {
	case a := <-addrc:
		_, port, _ := strings.Cut(a, "]:")
		if port == "" {
			_, port, _ = strings.Cut(a, ":")
		}
		return &sidecar{cmd: cmd, addr: "127.0.0.1:" + port}
	case <-time.After(20 * time.Second):
		t.Fatal("sidecar did not log its listen address")
		return nil
	}
}

func (s *sidecar) scrape(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var counterLine = regexp.MustCompile(`(?m)^buzz_ws_connections_total (\S+)$`)

func (s *sidecar) counter(t *testing.T) float64 {
	t.Helper()
	_, body := s.scrape(t, "/metrics")
	m := counterLine.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func setCounter(relay *testrelay.Server, v float64) {
	relay.Set(&metricsv1.MetricFamily{Name: "buzz_ws_connections_total", Help: "WebSocket connections accepted.",
		Type: metricsv1.MetricType_METRIC_TYPE_COUNTER, Series: []*metricsv1.Series{{Value: v}}})
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSidecarRestartLosesNothing: a new sidecar process against the same
// relay serves the same cumulative counters at once; nothing goes down.
func TestSidecarRestartLosesNothing(t *testing.T) {
	bin := build(t)
	relay, err := testrelay.Start(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Stop()
	setCounter(relay, 41)

	a := startSidecar(t, bin, relay.Addr())
	waitUntil(t, "first sidecar ready", func() bool { c, _ := a.scrape(t, "/readyz"); return c == http.StatusOK })
	if v := a.counter(t); v != 41 {
		t.Fatalf("first sidecar counter %v", v)
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("sidecar exit after SIGTERM: %v", err)
	}
	setCounter(relay, 45)

	b := startSidecar(t, bin, relay.Addr())
	var last float64
	waitUntil(t, "second sidecar has data", func() bool { last = b.counter(t); return last >= 0 })
	if last < 41 {
		t.Fatalf("counter went down across a sidecar restart: %v", last)
	}
	waitUntil(t, "latest value", func() bool { return b.counter(t) == 45 })
	if _, body := b.scrape(t, "/metrics"); strings.Contains(body, "go_") || strings.Contains(body, "process_") {
		t.Fatalf("runtime metrics on /metrics:\n%s", body)
	}
}

func TestBadConfigExits(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BUZZ_METRICS_PORT=ninety")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "BUZZ_METRICS_PORT") {
		t.Fatalf("exit %v, output %s", err, out)
	}
}
