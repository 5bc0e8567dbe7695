package systemtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/buzzrelay/buzz/relay/internal/relaytest/proctest"
)

// The binaries under test, built once per run by TestMain.
var relayBin, sidecarBin string

func TestMain(m *testing.M) {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Built from the workspace root so both modules resolve through
	// go.work, exactly as the deployment builds them.
	os.Exit(proctest.Main(m, root,
		proctest.Binary{Pkg: "github.com/buzzrelay/buzz/relay/cmd/buzz-relay", Path: &relayBin},
		proctest.Binary{Pkg: "github.com/buzzrelay/buzz/statsd-sidecar/cmd/statsd-sidecar", Path: &sidecarBin}))
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
