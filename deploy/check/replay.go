package check

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Replay performs a build stage without a container engine: it copies what
// the COPY lines copy from root into a fresh tree under dir (standing in for
// the container's /), then runs the stage's go build there with the stage's
// ENV. A source the Dockerfile forgot to copy fails the build here exactly
// as it would in Docker. It returns the path of the binary.
func Replay(ctx context.Context, b *Build, root, dir string) (string, error) {
	work := filepath.Join(dir, b.Workdir)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	for _, c := range b.Copies {
		multi := len(c.Sources) > 1 || strings.HasSuffix(c.Dest, "/")
		dest := c.Dest
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(b.Workdir, dest)
		}
		for _, s := range c.Sources {
			src := filepath.Join(root, s)
			st, err := os.Stat(src)
			if err != nil {
				return "", fmt.Errorf("COPY %s: %w", s, err)
			}
			target := filepath.Join(dir, dest)
			switch {
			case st.IsDir():
				err = copyTree(src, target)
			case multi:
				err = copyFile(src, filepath.Join(target, filepath.Base(src)))
			default:
				err = copyFile(src, target)
			}
			if err != nil {
				return "", fmt.Errorf("COPY %s %s: %w", s, c.Dest, err)
			}
		}
	}
	args := make([]string, 0, len(b.Args)+1)
	args = append(args, "build")
	out := ""
	for i, a := range b.Args {
		if i > 0 && b.Args[i-1] == "-o" {
			a = filepath.Join(dir, a)
			out = a
		}
		args = append(args, a)
	}
	if out == "" {
		return "", fmt.Errorf("go build has no -o")
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = work
	cmd.Env = buildEnv(b.Env)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// buildEnv is this process's environment without anything that would point
// the go command away from the replayed tree, plus the stage's ENV.
func buildEnv(stage map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "GOWORK" || k == "PWD" || stage[k] != "" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range stage {
		env = append(env, k+"="+v)
	}
	return env
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, t)
	})
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// StaticELF reports whether the file is an ELF executable with no
// interpreter and no dynamic libraries, so it runs on scratch or
// distroless/static.
func StaticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s needs a dynamic loader", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err == nil && len(libs) > 0 {
		return fmt.Errorf("%s links %v", path, libs)
	}
	return nil
}
