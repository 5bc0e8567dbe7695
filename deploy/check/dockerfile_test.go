package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type image struct {
	file, binary, pkg, container string
}

var images = []image{
	{"deploy/relay.Dockerfile", "buzz-relay", "./relay/cmd/buzz-relay", "relay"},
	{"deploy/statsd-sidecar.Dockerfile", "statsd-sidecar", "./statsd-sidecar/cmd/statsd-sidecar", "statsd-sidecar"},
}

// imageWant derives what a Dockerfile must match from go.work and the
// manifests: the Go version, the modules, the pod's uid, the container's
// ports.
func imageWant(t *testing.T, im image) ImageWant {
	t.Helper()
	ws, err := ReadWorkspace(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	m := loadManifests(t, baseDir)
	d, err := m.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	c := Container(d, im.container)
	if c == nil {
		t.Fatalf("no container %s", im.container)
	}
	sc := d.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil {
		t.Fatal("pod securityContext.runAsUser unset")
	}
	return ImageWant{Binary: im.binary, Package: im.pkg, GoVersion: ws.GoVersion, UID: *sc.RunAsUser,
		Ports: portsOf(c), Modules: ws.Modules, Root: repoRoot}
}

func readText(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDockerfilesFollowTheImageRules(t *testing.T) {
	for _, im := range images {
		t.Run(im.binary, func(t *testing.T) {
			d, err := ParseDockerfile([]byte(readText(t, im.file)))
			if err != nil {
				t.Fatal(err)
			}
			b, errs := CheckDockerfile(d, imageWant(t, im))
			noErrors(t, im.file, errs)
			if b == nil || b.Env["CGO_ENABLED"] != "0" || len(b.Copies) == 0 {
				t.Errorf("recipe %+v", b)
			}
		})
	}
}

func TestDockerfileChecksCatchMistakes(t *testing.T) {
	relay := images[0]
	text := readText(t, relay.file)
	for name, c := range map[string]struct {
		old, new string
		want     []string
	}{
		"cgo on":            {"CGO_ENABLED=0", "CGO_ENABLED=1", []string{"CGO_ENABLED=0"}},
		"named user":        {"USER 65532:65532", "USER nonroot", []string{"must be numeric"}},
		"root user":         {"USER 65532:65532", "USER 0", []string{"USER is root"}},
		"other uid":         {"USER 65532:65532", "USER 1000", []string{"differs from the pod"}},
		"expose drift":      {"EXPOSE 3000 8080", "EXPOSE 3000", []string{"EXPOSE [3000]"}},
		"old go":            {"golang:1.26.8-bookworm", "golang:1.25.0-bookworm", []string{"does not match go.work"}},
		"fat final image":   {"gcr.io/distroless/static-debian12:nonroot", "debian:bookworm", []string{"not scratch or distroless"}},
		"missing source":    {"COPY relay/ relay/", "COPY relay/ relay/\nCOPY nosuch/ nosuch/", []string{"nosuch/ is not in the build context"}},
		"module not copied": {"COPY deploy/go.mod deploy/go.sum deploy/\n", "", []string{"never copies deploy/go.mod"}},
		"wrong package":     {"./relay/cmd/buzz-relay\n", "./statsd-sidecar/cmd/statsd-sidecar\n", []string{"want \"./relay/cmd/buzz-relay\""}},
		"output mismatch":   {"COPY --from=build /out/buzz-relay", "COPY --from=build /out/relay", []string{"final COPY takes /out/relay"}},
		"entrypoint":        {`ENTRYPOINT ["/usr/local/bin/buzz-relay"]`, `ENTRYPOINT ["/bin/sh"]`, []string{"ENTRYPOINT"}},
		"shell in RUN":      {"go build -trimpath", "go mod download && go build -trimpath", []string{"single plain `go build`"}},
	} {
		t.Run(name, func(t *testing.T) {
			mutated := strings.Replace(text, c.old, c.new, 1)
			if mutated == text {
				t.Fatalf("%q not found in %s", c.old, relay.file)
			}
			d, err := ParseDockerfile([]byte(mutated))
			if err != nil {
				t.Fatal(err)
			}
			_, errs := CheckDockerfile(d, imageWant(t, relay))
			wantError(t, errs, c.want...)
		})
	}
	single := "FROM golang:1.26.8\nRUN go build -o /x ./relay/cmd/buzz-relay\n"
	d, err := ParseDockerfile([]byte(single))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := CheckDockerfile(d, imageWant(t, relay))
	wantError(t, errs, "multi-stage")
	if _, err := ParseDockerfile([]byte("RUN true\n")); err == nil {
		t.Error("a Dockerfile without FROM parsed")
	}
	if _, err := ParseDockerfile([]byte("FROM x\nRUN a \\\n")); err == nil {
		t.Error("an unfinished continuation parsed")
	}
}

// The replay is what stands in for `docker build` here, so it must fail
// when the Dockerfile leaves out sources the binary needs.
func TestReplayFailsWithoutNeededSources(t *testing.T) {
	text := strings.Replace(readText(t, images[0].file), "COPY proto/ proto/", "COPY proto/go.mod proto/go.sum proto/", 1)
	d, err := ParseDockerfile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := CheckDockerfile(d, imageWant(t, images[0]))
	if b == nil {
		t.Fatal("no recipe")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err = Replay(ctx, b, repoRoot, t.TempDir())
	if err == nil {
		t.Fatal("the relay built without the proto module's sources")
	}
	// The failure must be the missing package, not some other breakage.
	if !strings.Contains(err.Error(), "github.com/buzzrelay/buzz/proto/") {
		t.Errorf("failed for another reason: %v", err)
	}
}
