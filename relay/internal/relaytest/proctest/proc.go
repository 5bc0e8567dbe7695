// Package proctest runs the project's binaries as child processes in
// tests: it builds them once per test run, starts them, waits for the JSON
// log line that says they are ready and keeps their log for assertions.
package proctest

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TailLines is how many raw stdout lines a Proc keeps for failure messages.
const TailLines = 40

// startTimeout bounds the wait for the ready line: a cold start with
// migrations takes a few seconds on a busy machine, never this long.
const startTimeout = 30 * time.Second

// Options says how to run a binary and how to read its log.
type Options struct {
	// Name labels the process in failure messages; default: the binary.
	Name string
	// Args are the command-line arguments.
	Args []string
	// Env is added to the test's own environment ("KEY=value").
	Env []string
	// Ready is the msg of the log line that means the process is serving.
	Ready string
	// StrictJSON fails the test on a stdout line that is not JSON, for
	// binaries whose log format is itself under test.
	StrictJSON bool
	// KeepLog keeps every JSON log line for Lines, Messages and Logged;
	// without it only the last TailLines raw lines are kept, so a long or
	// noisy run does not grow the test's memory.
	KeepLog bool
}

// Proc is a running child process whose stdout is JSON log lines.
type Proc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed

	mu    sync.Mutex
	lines []map[string]any
	tail  []string
}

// Start runs bin and waits up to 30 s for the log line whose msg is
// o.Ready; it returns the process and that line. The process is killed
// when the test ends.
func Start(t testing.TB, bin string, o Options) (*Proc, map[string]any) {
	t.Helper()
	name := o.Name
	if name == "" {
		name = bin
	}
	p := &Proc{t: t, name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, o.Args...)
	p.cmd.Env = append(os.Environ(), o.Env...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			var line map[string]any
			isJSON := json.Unmarshal(sc.Bytes(), &line) == nil
			if !isJSON && o.StrictJSON {
				t.Errorf("%s: non-JSON log line: %q", name, sc.Text())
			}
			p.mu.Lock()
			p.tail = append(p.tail, sc.Text())
			if len(p.tail) > TailLines {
				p.tail = p.tail[len(p.tail)-TailLines:]
			}
			if isJSON && o.KeepLog {
				p.lines = append(p.lines, line)
			}
			p.mu.Unlock()
			if !sent && isJSON && line["msg"] == o.Ready {
				ready <- line
				sent = true
			}
		}
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Kill)
	select {
	case line := <-ready:
		return p, line
	case <-p.exited:
		t.Fatalf("%s exited during start-up (%v); log tail:\n%s", name, p.waitErr, p.LogTail())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not log %q within %v; log tail:\n%s", name, o.Ready, startTimeout, p.LogTail())
	}
	return nil, nil
}

// Kill ends the process with SIGKILL (which also ends a stopped one) and
// waits for it; on an exited process it does nothing.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Signal sends sig to the process and fails the test if it cannot.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// Pid is the process id, for reading /proc.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Alive fails the test if the process has exited.
func (p *Proc) Alive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("%s exited", p.name)
	default:
	}
}

// ExitCode waits up to timeout for the process to exit and returns its
// exit code (-1 when a signal ended it). It fails the test on a timeout or
// when the process could not be waited for.
func (p *Proc) ExitCode(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit", p.name)
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	if p.waitErr != nil {
		p.t.Fatal(p.waitErr)
	}
	return 0
}

// Lines returns the JSON log lines so far (Options.KeepLog).
func (p *Proc) Lines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// Messages returns the msg of every JSON log line so far (Options.KeepLog).
func (p *Proc) Messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if m, ok := l["msg"].(string); ok {
			out = append(out, m)
		}
	}
	return out
}

// Logged reports whether a log line so far had msg (Options.KeepLog).
func (p *Proc) Logged(msg string) bool {
	return slices.Contains(p.Messages(), msg)
}

// LogTail returns the last TailLines raw stdout lines.
func (p *Proc) LogTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}
