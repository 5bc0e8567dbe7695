package check

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestImagesBuildStaticBinaries(t *testing.T) {
	b := binaries(t)
	for _, p := range []string{b.relay, b.sidecar} {
		if err := StaticELF(p); err != nil {
			t.Error(err)
		}
	}
}

// The binaries must list the variables the checks rely on; otherwise their
// `env` output, not the manifests, is what is wrong.
func TestBinariesListTheCheckedVariables(t *testing.T) {
	b := binaries(t)
	for _, v := range []string{VarBindAddr, VarHealthPort, VarMetricsGRPC, VarDataDir, VarDrainDelay, VarShutdown,
		VarOTLPEndpoint, VarDatabaseURL, VarRedisURL, VarRelayKey} {
		if !b.relayVars[v] {
			t.Errorf("buzz-relay env does not list %s", v)
		}
	}
	for _, v := range []string{VarRelayMetrics, VarMetricsPort} {
		if !b.carVars[v] {
			t.Errorf("statsd-sidecar env does not list %s", v)
		}
	}
}

// Every variable the manifests and the compose file set is one the binary
// in that container reads.
func TestDeployFilesSetOnlyVariablesTheBinariesRead(t *testing.T) {
	b := binaries(t)
	e := expectWith(b.relayVars, b.carVars)
	base := loadManifests(t, baseDir)
	noErrors(t, "base", CheckManifests(base, e))
	noErrors(t, "tracing overlay", CheckManifests(loadManifests(t, tracingDir), e))
	noErrors(t, "tracing overlay", CheckTracingOn(loadManifests(t, tracingDir), e))
	noErrors(t, "compose", CheckCompose(loadCompose(t), base, e, repoRoot))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, once done is closed
}

func start(t *testing.T, bin string, args []string, env map[string]string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, p.out.String())
		}
	})
	return p
}

// waitStatus polls url until it answers want or the time is up.
func waitStatus(t *testing.T, url string, want int, within time.Duration) *http.Response {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return resp
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("GET %s: want %d within %s, last: %s", url, want, within, last)
	return nil
}

// probeURLs turns a container's probes into URLs on the live process;
// ports maps the manifest's port numbers to the ones the test chose.
func probeURLs(t *testing.T, c *corev1.Container, ports map[int32]int) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			continue
		}
		n, ok := resolvePort(c, p.HTTPGet.Port)
		if !ok || ports[n] == 0 {
			t.Fatalf("container %s: %s probe port %s does not map to a live port", c.Name, kind, p.HTTPGet.Port.String())
		}
		urls[kind] = "http://127.0.0.1:" + strconv.Itoa(ports[n]) + p.HTTPGet.Path
	}
	return urls
}

// TestProbesAnswerOnTheBuiltBinaries runs the two binaries wired as the pod
// wires them and asks every probe and scrape path in the manifests: each
// must answer 200, the relay's readiness must turn 503 on SIGTERM, and the
// relay must exit on its own well inside the grace period.
func TestProbesAnswerOnTheBuiltBinaries(t *testing.T) {
	b := binaries(t)
	m := loadManifests(t, baseDir)
	d, err := m.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	relay, car := Container(d, "relay"), Container(d, "statsd-sidecar")
	relayEnv, _ := ContainerEnv(m, relay)
	carEnv, _ := ContainerEnv(m, car)
	num := func(env map[string]EnvVar, name string, addr bool) int32 {
		v := env[name].Value
		var n int
		var err error
		if addr {
			n, err = addrPort(v)
		} else {
			n, err = strconv.Atoi(v)
		}
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return int32(n)
	}
	ws, health, metrics, stream := freePort(t), freePort(t), freePort(t), freePort(t)
	ports := map[int32]int{
		num(relayEnv, VarBindAddr, true):    ws,
		num(relayEnv, VarHealthPort, false): health,
		num(carEnv, VarMetricsPort, false):  metrics,
	}
	streamAddr := "127.0.0.1:" + strconv.Itoa(stream)
	const drain, deadline = 2, 5

	r := start(t, b.relay, relay.Args, map[string]string{
		VarBindAddr:    "127.0.0.1:" + strconv.Itoa(ws),
		VarHealthPort:  strconv.Itoa(health),
		VarMetricsGRPC: streamAddr,
		VarDataDir:     t.TempDir(),
		VarDrainDelay:  strconv.Itoa(drain),
		VarShutdown:    strconv.Itoa(deadline),
	})
	start(t, b.sidecar, car.Args, map[string]string{
		VarRelayMetrics: streamAddr,
		VarMetricsPort:  strconv.Itoa(metrics),
	})

	relayProbes, carProbes := probeURLs(t, relay, ports), probeURLs(t, car, ports)
	if len(relayProbes) < 2 || len(carProbes) < 2 {
		t.Fatalf("probes: relay %v, sidecar %v", relayProbes, carProbes)
	}
	for _, kind := range []string{"startup", "liveness", "readiness"} {
		if u, ok := relayProbes[kind]; ok {
			waitStatus(t, u, http.StatusOK, 30*time.Second)
		}
		if u, ok := carProbes[kind]; ok {
			waitStatus(t, u, http.StatusOK, 15*time.Second)
		}
	}
	// What the Datadog Agent and Prometheus scrape, per the annotations.
	scrape := "http://127.0.0.1:" + strconv.Itoa(metrics) + d.Spec.Template.Annotations["prometheus.io/path"]
	if resp := waitStatus(t, scrape, http.StatusOK, 5*time.Second); resp != nil {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q, want Prometheus text", scrape, ct)
		}
	}
	// The sidecar's own readiness shows the stream the manifests wire up
	// actually connects.
	waitStatus(t, "http://127.0.0.1:"+strconv.Itoa(metrics)+"/readyz", http.StatusOK, 20*time.Second)
	if t.Failed() {
		return
	}

	sent := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, relayProbes["readiness"], http.StatusServiceUnavailable, drain*time.Second)
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("relay exit after SIGTERM: %v", r.err)
		}
		t.Logf("relay exited %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After((drain + deadline + 2) * time.Second):
		t.Errorf("relay still running %d s after SIGTERM; the pod's grace period assumes it stops by then", drain+deadline+2)
	}
}
