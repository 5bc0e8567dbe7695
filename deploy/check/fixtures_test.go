package check

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths, relative to this package's directory.
var (
	repoRoot   = mustAbs("../..")
	baseDir    = filepath.Join(repoRoot, "deploy/k8s/base")
	tracingDir = filepath.Join(repoRoot, "deploy/k8s/overlays/tracing")
	composeYML = filepath.Join(repoRoot, "deploy/compose.yaml")
)

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// Facts from RELAY.md section 1, the issue and the sidecar's routes:
// container names, image repositories, health endpoints. Variable lists are filled in per test.
func expectWith(relayVars, carVars map[string]bool) Expect {
	return Expect{
		Relay: Binary{
			Name: "buzz-relay", Container: "relay", Image: "ghcr.io/buzzrelay/buzz-relay",
			Vars: relayVars, Liveness: []string{"/_liveness"}, Readiness: []string{"/_readiness"},
		},
		Sidecar: Binary{
			Name: "statsd-sidecar", Container: "statsd-sidecar", Image: "ghcr.io/buzzrelay/statsd-sidecar",
			// Readiness gates the whole pod's traffic, so it may only mean
			// "serving" (/healthz), never "stream connected" (/readyz).
			Vars: carVars, Liveness: []string{"/healthz"}, Readiness: []string{"/healthz"},
		},
	}
}

// fixtureExpect accepts exactly the variables the deploy files set today,
// so the checker's logic can be tested apart from the binaries: any new or
// misplaced variable in a mutated copy must be reported.
func fixtureExpect(t *testing.T) Expect {
	t.Helper()
	relay, car := map[string]bool{}, map[string]bool{}
	for _, dir := range []string{baseDir, tracingDir} {
		m := loadManifests(t, dir)
		d, err := m.Deployment()
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range []struct {
			name string
			into map[string]bool
		}{{"relay", relay}, {"statsd-sidecar", car}} {
			c := Container(d, pair.name)
			if c == nil {
				t.Fatalf("%s: no container %s", dir, pair.name)
			}
			env, _ := ContainerEnv(m, c)
			for k := range env {
				pair.into[k] = true
			}
		}
	}
	c, err := LoadCompose(composeYML)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"relay-a", "relay-b"} {
		for k := range c.Services[name].Environment {
			relay[k] = true
		}
	}
	return expectWith(relay, car)
}

func loadManifests(t *testing.T, dir string) *Manifests {
	t.Helper()
	m, err := LoadManifests(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return m
}

func noErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("%s: %v", what, e)
	}
}

// wantError requires a problem whose text contains every fragment.
func wantError(t *testing.T, errs []error, fragments ...string) {
	t.Helper()
	for _, e := range errs {
		ok := true
		for _, f := range fragments {
			if !strings.Contains(e.Error(), f) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	t.Errorf("no problem mentioning %q; got %d: %v", fragments, len(errs), errs)
}

// built holds the two binaries, compiled once per test run by replaying
// their Dockerfiles.
type built struct {
	relay, sidecar string
	relayVars      map[string]bool
	carVars        map[string]bool
}

var (
	buildOnce   sync.Once
	buildResult *built
	buildErr    error
	buildDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds both images' binaries the way their Dockerfiles do and
// asks each which variables it reads. It fails the test if either cannot
// be built: then the images cannot be built either.
func binaries(t *testing.T) *built {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "buzz-deploy-check-")
		if buildErr != nil {
			return
		}
		b := &built{}
		ws, err := ReadWorkspace(filepath.Join(repoRoot, "go.work"))
		if err != nil {
			buildErr = err
			return
		}
		for _, img := range []struct {
			file, binary, pkg string
			out               *string
		}{
			{"deploy/relay.Dockerfile", "buzz-relay", "./relay/cmd/buzz-relay", &b.relay},
			{"deploy/statsd-sidecar.Dockerfile", "statsd-sidecar", "./statsd-sidecar/cmd/statsd-sidecar", &b.sidecar},
		} {
			d, err := parseDockerfileFile(img.file)
			if err != nil {
				buildErr = err
				return
			}
			recipe, errs := CheckDockerfile(d, ImageWant{Binary: img.binary, Package: img.pkg, GoVersion: ws.GoVersion,
				UID: 65532, Ports: nil, Modules: ws.Modules, Root: repoRoot})
			if recipe == nil {
				buildErr = fmt.Errorf("%s: %v", img.file, errs)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			*img.out, err = Replay(ctx, recipe, repoRoot, filepath.Join(buildDir, img.binary))
			cancel()
			if err != nil {
				buildErr = fmt.Errorf("%s: %w", img.file, err)
				return
			}
		}
		if b.relayVars, buildErr = envList(b.relay); buildErr != nil {
			return
		}
		if b.carVars, buildErr = envList(b.sidecar); buildErr != nil {
			return
		}
		buildResult = b
	})
	if buildErr != nil {
		t.Fatalf("building the binaries from their Dockerfiles: %v", buildErr)
	}
	return buildResult
}

var varName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// envList runs `<binary> env`, which prints every variable the binary
// reads, one per line.
func envList(bin string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "env")
	// Nothing but PATH: a binary without the subcommand starts serving on
	// its defaults, and must not pick up this machine's settings.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s env did not exit within 10 s; the binary needs an `env` subcommand that prints the variables it reads", filepath.Base(bin))
	}
	if err != nil {
		return nil, fmt.Errorf("%s env: %w", filepath.Base(bin), err)
	}
	vars := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !varName.MatchString(line) {
			return nil, fmt.Errorf("%s env: %q is not a variable name", filepath.Base(bin), line)
		}
		vars[line] = true
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("%s env printed no variables", filepath.Base(bin))
	}
	return vars, nil
}

func parseDockerfileFile(rel string) (*Dockerfile, error) {
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		return nil, err
	}
	return ParseDockerfile(data)
}
