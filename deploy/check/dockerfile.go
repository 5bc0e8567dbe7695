package check

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Instruction is one Dockerfile instruction after line continuations are
// joined.
type Instruction struct {
	Line  int
	Cmd   string   // upper case: FROM, COPY, RUN, ...
	Flags []string // leading --flag=value arguments
	Args  string   // the rest, unparsed
}

// Fields splits Args on white space.
func (in Instruction) Fields() []string { return strings.Fields(in.Args) }

// Flag returns the value of --name=value, if present.
func (in Instruction) Flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Stage is one FROM and the instructions under it.
type Stage struct {
	Image        string
	Name         string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Stages []Stage
}

// Final returns the last stage, the one the image is made of.
func (d *Dockerfile) Final() *Stage { return &d.Stages[len(d.Stages)-1] }

// Stage returns the stage with the given name, or nil.
func (d *Dockerfile) Stage(name string) *Stage {
	for i := range d.Stages {
		if d.Stages[i].Name == name {
			return &d.Stages[i]
		}
	}
	return nil
}

// All returns the stage's instructions with the given command.
func (s *Stage) All(cmd string) []Instruction {
	var out []Instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// Env returns the stage's ENV settings (key=value form).
func (s *Stage) Env() (map[string]string, error) {
	env := map[string]string{}
	for _, in := range s.All("ENV") {
		for _, kv := range in.Fields() {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: ENV must use key=value", in.Line)
			}
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env, nil
}

// ParseDockerfile reads the instructions of a Dockerfile: comments and
// parser directives are dropped, continuation lines joined, and leading
// --flags split off.
func ParseDockerfile(data []byte) (*Dockerfile, error) {
	var (
		d       Dockerfile
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if pending.Len() > 0 && strings.HasPrefix(text, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = line
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(text)
		if err := d.add(start, pending.String()); err != nil {
			return nil, err
		}
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("line %d: unfinished continuation", start)
	}
	if len(d.Stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return &d, nil
}

func (d *Dockerfile) add(line int, text string) error {
	cmd, rest, _ := strings.Cut(text, " ")
	in := Instruction{Line: line, Cmd: strings.ToUpper(cmd)}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		f, r, _ := strings.Cut(rest, " ")
		in.Flags = append(in.Flags, f)
		rest = strings.TrimSpace(r)
	}
	in.Args = rest
	if in.Cmd == "FROM" {
		f := in.Fields()
		s := Stage{Image: f[0]}
		if len(f) == 3 && strings.EqualFold(f[1], "AS") {
			s.Name = f[2]
		} else if len(f) != 1 {
			return fmt.Errorf("line %d: FROM %q", line, in.Args)
		}
		d.Stages = append(d.Stages, s)
		return nil
	}
	if len(d.Stages) == 0 {
		return fmt.Errorf("line %d: %s before FROM", line, in.Cmd)
	}
	s := &d.Stages[len(d.Stages)-1]
	s.Instructions = append(s.Instructions, in)
	return nil
}

// Build is how a Dockerfile's build stage produces the binary, in a form a
// test can replay without a container engine.
type Build struct {
	Workdir string            // absolute path inside the build container
	Env     map[string]string // the stage's ENV
	Copies  []Copy            // context → workdir copies, in order
	Args    []string          // go build arguments, -o included
	Output  string            // absolute path of -o
	Package string            // the package built
}

// Copy is one COPY from the build context.
type Copy struct {
	Sources []string
	Dest    string
}

// ImageWant is what a Dockerfile must agree with.
type ImageWant struct {
	Binary    string   // executable name
	Package   string   // ./relay/cmd/buzz-relay
	GoVersion string   // the go line of go.work
	UID       int64    // the pod's runAsUser
	Ports     []int    // the container's ports in the manifests
	Modules   []string // go.work use directories, each must reach the build
	Root      string   // repository root (the build context)
}

var goBuildRe = regexp.MustCompile(`^go build (.+)$`)

// CheckDockerfile holds a Dockerfile to the image rules and returns the
// build recipe for replay: multi-stage, a golang builder at the workspace's
// Go version, CGO_ENABLED=0, every COPY source present, a static base with
// a numeric non-root USER, and EXPOSE equal to the manifests' ports.
func CheckDockerfile(d *Dockerfile, w ImageWant) (*Build, []error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(d.Stages) < 2 {
		fail("want a multi-stage build, found %d stage(s)", len(d.Stages))
		return nil, errs
	}
	final := d.Final()
	if !(final.Image == "scratch" || strings.HasPrefix(final.Image, "gcr.io/distroless/static")) {
		fail("final image %q is not scratch or distroless static", final.Image)
	}
	if len(final.All("RUN")) > 0 {
		fail("final stage runs commands; it must only copy the binary")
	}
	copies := final.All("COPY")
	if len(copies) != 1 {
		fail("final stage: want one COPY (the binary), found %d", len(copies))
		return nil, errs
	}
	from, ok := copies[0].Flag("from")
	buildStage := d.Stage(from)
	if !ok || buildStage == nil {
		fail("final COPY must be --from a named build stage")
		return nil, errs
	}
	cf := copies[0].Fields()
	if len(cf) != 2 {
		fail("final COPY: want one source and one destination")
		return nil, errs
	}
	dest := cf[1]

	b := &Build{Workdir: "/"}
	if !strings.HasPrefix(buildStage.Image, "golang:"+w.GoVersion+"-") && buildStage.Image != "golang:"+w.GoVersion {
		fail("build stage image %q does not match go.work's go %s", buildStage.Image, w.GoVersion)
	}
	env, err := buildStage.Env()
	if err != nil {
		fail("%v", err)
	}
	b.Env = env
	if env["CGO_ENABLED"] != "0" {
		fail("build stage must set CGO_ENABLED=0 for a static binary")
	}
	for _, in := range buildStage.Instructions {
		switch in.Cmd {
		case "WORKDIR":
			b.Workdir = filepath.Join(b.Workdir, in.Args)
		case "COPY":
			if _, ok := in.Flag("from"); ok {
				fail("line %d: build stage copies from another stage", in.Line)
				continue
			}
			f := in.Fields()
			if len(f) < 2 {
				fail("line %d: COPY needs a source and a destination", in.Line)
				continue
			}
			c := Copy{Sources: f[:len(f)-1], Dest: f[len(f)-1]}
			for _, s := range c.Sources {
				if _, err := os.Stat(filepath.Join(w.Root, s)); err != nil {
					fail("line %d: COPY source %s is not in the build context", in.Line, s)
				}
			}
			b.Copies = append(b.Copies, c)
		case "RUN":
			m := goBuildRe.FindStringSubmatch(in.Args)
			if m == nil || strings.ContainsAny(in.Args, "&;|$`'\"") {
				fail("line %d: RUN must be a single plain `go build` (the checks replay it)", in.Line)
				continue
			}
			b.Args = strings.Fields(m[1])
		}
	}
	for i, a := range b.Args {
		if a == "-o" && i+1 < len(b.Args) {
			b.Output = b.Args[i+1]
		}
		if !strings.HasPrefix(a, "-") && (i == 0 || b.Args[i-1] != "-o") {
			b.Package = a
		}
	}
	if b.Args == nil {
		fail("build stage has no go build")
	}
	if b.Package != w.Package {
		fail("go build builds %q, want %q", b.Package, w.Package)
	}
	if cf[0] != b.Output {
		fail("final COPY takes %s but go build writes %q", cf[0], b.Output)
	}
	errs = append(errs, checkModulesCopied(b, w.Modules)...)

	user := final.All("USER")
	if len(user) != 1 {
		fail("final stage: want one USER, found %d", len(user))
	} else {
		uid, _, _ := strings.Cut(user[0].Args, ":")
		n, err := strconv.ParseInt(uid, 10, 64)
		switch {
		case err != nil:
			fail("USER %q must be numeric so runAsNonRoot can verify it", user[0].Args)
		case n == 0:
			fail("USER is root")
		case n != w.UID:
			fail("USER %d differs from the pod's runAsUser %d", n, w.UID)
		}
	}
	var exposed []int
	for _, in := range final.All("EXPOSE") {
		for _, f := range in.Fields() {
			n, err := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
			if err != nil {
				fail("EXPOSE %q", f)
				continue
			}
			exposed = append(exposed, n)
		}
	}
	slices.Sort(exposed)
	want := slices.Clone(w.Ports)
	slices.Sort(want)
	if !slices.Equal(exposed, want) {
		fail("EXPOSE %v, but the manifests declare ports %v", exposed, want)
	}
	entry := final.All("ENTRYPOINT")
	if len(entry) != 1 {
		fail("final stage: want one ENTRYPOINT")
	} else {
		var argv []string
		if err := json.Unmarshal([]byte(entry[0].Args), &argv); err != nil || len(argv) == 0 {
			fail("ENTRYPOINT must be an exec-form JSON array")
		} else if argv[0] != dest || filepath.Base(dest) != w.Binary {
			fail("ENTRYPOINT %q does not run the copied %s", argv[0], w.Binary)
		}
	}
	return b, errs
}

// checkModulesCopied: go.work names every module, so each one's go.mod must
// reach the build even when its sources are not needed.
func checkModulesCopied(b *Build, modules []string) []error {
	var errs []error
	for _, mod := range modules {
		mod = strings.TrimPrefix(filepath.Clean(mod), "./")
		found := false
		for _, c := range b.Copies {
			for _, s := range c.Sources {
				s = strings.TrimSuffix(filepath.Clean(s), "/")
				if s == mod || s == mod+"/go.mod" {
					found = true
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("go.work uses %s but the build never copies %s/go.mod", mod, mod))
		}
	}
	return errs
}

// Workspace is what the checks read from go.work.
type Workspace struct {
	GoVersion string
	Modules   []string
}

// ReadWorkspace parses the go and use directives of a go.work file.
func ReadWorkspace(path string) (*Workspace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w := &Workspace{}
	inUse := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "//", 2)[0])
		switch {
		case inUse && line == ")":
			inUse = false
		case inUse && line != "":
			w.Modules = append(w.Modules, line)
		case line == "use (":
			inUse = true
		case strings.HasPrefix(line, "use "):
			w.Modules = append(w.Modules, strings.TrimSpace(strings.TrimPrefix(line, "use ")))
		case strings.HasPrefix(line, "go "):
			w.GoVersion = strings.TrimSpace(strings.TrimPrefix(line, "go "))
		}
	}
	if w.GoVersion == "" || len(w.Modules) == 0 {
		return nil, fmt.Errorf("%s: no go or use directive", path)
	}
	return w, nil
}
