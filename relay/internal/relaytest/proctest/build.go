package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary is a main package a test run needs built, and the variable that
// receives the built binary's path.
type Binary struct {
	Pkg  string  // import path, or a directory relative to the build directory
	Path *string // set to the binary's path before the tests run
}

// Main builds bins once into a temporary directory, runs the tests and
// removes the directory; it returns the exit code for TestMain to pass to
// os.Exit. dir is where go build runs ("" for the package's directory);
// a build failure is printed and ends the run with code 1.
func Main(m *testing.M, dir string, bins ...Binary) int {
	tmp, err := os.MkdirTemp("", "buzz-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	for _, b := range bins {
		*b.Path = filepath.Join(tmp, filepath.Base(b.Pkg))
		if b.Pkg == "." {
			wd, err := os.Getwd()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			*b.Path = filepath.Join(tmp, filepath.Base(wd))
		}
		cmd := exec.Command("go", "build", "-o", *b.Path, b.Pkg)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.Pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
