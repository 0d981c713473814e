package lint

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// moduleRoot is the directory holding the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go command is not on PATH (%v): the checks list packages with it", err)
	}
}

func fail(t *testing.T, vs []Violation) {
	t.Helper()
	for _, v := range vs {
		t.Error(v)
	}
}

// TestModule runs every check over the module itself.
func TestModule(t *testing.T) {
	needGo(t)
	root := moduleRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkgs, err := ListPackages(ctx, root, true, "./...")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("layering", func(t *testing.T) {
		fail(t, CheckImports(ProjectLayering(), pkgs))
	})
	t.Run("references", func(t *testing.T) {
		vs, err := CheckReferences(ProjectReferences(root))
		if err != nil {
			t.Fatal(err)
		}
		fail(t, vs)
	})
	t.Run("package-state", func(t *testing.T) {
		vs, err := CheckPackageState(ProjectLayering().Module, root, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		fail(t, vs)
	})
}

// TestBrokenModule runs the checks over testdata/broken, a module made to
// break each rule once, and expects each break to be reported: a check
// that reports nothing there is not checking.
func TestBrokenModule(t *testing.T) {
	needGo(t)
	root, err := filepath.Abs(filepath.Join("testdata", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pkgs, err := ListPackages(ctx, root, true, "./...")
	if err != nil {
		t.Fatal(err)
	}
	layering := ProjectLayering()
	layering.Module = "example.com/broken"
	refs := ProjectReferences(root)
	refs.Skip = slices.DeleteFunc(refs.Skip, func(s string) bool { return s == "testdata" })
	refViolations, err := CheckReferences(refs)
	if err != nil {
		t.Fatal(err)
	}
	stateViolations, err := CheckPackageState(layering.Module, root, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Concat(CheckImports(layering, pkgs), refViolations, stateViolations)
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	all := strings.Join(lines, "\n")
	t.Logf("violations in testdata/broken:\n%s", all)

	want := []struct {
		name string
		has  []string // substrings of one violation line
	}{
		{"store imports adr", []string{"layering", "store imports adr, which only adr, logbackends may import"}},
		{"lower layer imports upper", []string{"layering", "logbackends (rank 1) imports store (rank 2)"}},
		{"anything imports cmd", []string{"layering", "harness imports cmd/tool, which nothing may import"}},
		{"plots imports beyond results", []string{"layering", "plots imports store: plots may import only results"}},
		{"state machine imports raft", []string{"layering", "store/mvcc imports go.etcd.io/raft/v3"}},
		{"package in no layer", []string{"layering", "package stray is in no layer"}},
		{"markdown link to a missing file", []string{"README.md:3", "reference", "docs/missing.md"}},
		{"path under a top folder that is missing", []string{"store/store.go", "reference", "store/nothere.go"}},
		{"bare document name that is missing", []string{"store/store.go", "reference", "DESIGN.md"}},
		{"init function", []string{"results/results.go", "init"}},
		{"package var assigned", []string{"results/results.go", "package-state", "results.counter is assigned"}},
		{"package var incremented", []string{"results/results.go", "package-state", "results.counter is incremented"}},
		{"package var by pointer method", []string{"results/results.go", "package-state", "results.mu is changed through a pointer method"}},
		{"package map written", []string{"results/results.go", "package-state", "results.registry is assigned"}},
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			if !slices.ContainsFunc(lines, func(l string) bool {
				for _, s := range w.has {
					if !strings.Contains(l, s) {
						return false
					}
				}
				return true
			}) {
				t.Errorf("no violation with %q", w.has)
			}
		})
	}
	// What the broken module does right must not be reported.
	for _, ok := range []string{"README.md:4", "results.table", "results.ErrX", "store/ok.go"} {
		if strings.Contains(all, ok) {
			t.Errorf("reported %q, which breaks no rule", ok)
		}
	}
}
