package systemtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The binaries under test, built once per run by TestMain.
var relayBin, sidecarBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "buzz-systemtest-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	relayBin = filepath.Join(dir, "buzz-relay")
	sidecarBin = filepath.Join(dir, "statsd-sidecar")
	for bin, pkg := range map[string]string{
		relayBin:   "github.com/buzzrelay/buzz/relay/cmd/buzz-relay",
		sidecarBin: "github.com/buzzrelay/buzz/statsd-sidecar/cmd/statsd-sidecar",
	} {
		// Built from the workspace root so both modules resolve through
		// go.work, exactly as the deployment builds them.
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// repoRoot is the nearest directory above the working directory holding
// go.work.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above", wd)
		}
	}
}
