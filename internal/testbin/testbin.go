// Package testbin gives tests that run adrbench or etcd as separate
// processes their binaries: cmd/adrbench built from this module once per
// test binary, and etcd's tools looked up on PATH, skipping the test with
// the reason when they cannot be had.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// adrbenchPkg is the command's import path; go build resolves it from the
// module the test runs in, whatever its working directory.
const adrbenchPkg = "github.com/adrbench/adrbench/cmd/adrbench"

// Build builds cmd/adrbench on its first use and keeps the binary until
// Remove. A test package declares one and runs its tests with Run from
// TestMain. The zero value is ready to use.
type Build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Adrbench returns the path of the built command, building it on the first
// call. It skips t when the go toolchain is not on PATH and fails t when
// the build fails.
func (b *Build) Adrbench(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("SKIPPING: the go toolchain is not on PATH, so cmd/adrbench cannot be built: ", err)
	}
	b.once.Do(b.build)
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func (b *Build) build() {
	dir, err := os.MkdirTemp("", "adrbench-test-bin-")
	if err != nil {
		b.err = fmt.Errorf("testbin: %w", err)
		return
	}
	b.dir = dir
	path := filepath.Join(dir, "adrbench")
	if out, err := exec.Command("go", "build", "-o", path, adrbenchPkg).CombinedOutput(); err != nil {
		b.err = fmt.Errorf("testbin: go build %s: %w\n%s", adrbenchPkg, err, out)
		return
	}
	b.path = path
}

// Run runs a test package's tests, then removes the built command; a
// package's TestMain is os.Exit(b.Run(m)).
func (b *Build) Run(m *testing.M) int {
	code := m.Run()
	b.Remove()
	return code
}

// Remove deletes the built command, if one was built.
func (b *Build) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Tool returns the path of name (etcd, etcdctl, fio...) on PATH, skipping t
// when it is not there. scripts/test.sh installs every tool the tests use,
// so in CI this never skips.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIPPING: %s is not on PATH (scripts/test.sh installs it): %v", name, err)
	}
	return path
}
