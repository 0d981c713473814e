package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Package is what `go list -json` says of one package, as far as the
// checks need it.
type Package struct {
	ImportPath   string
	Name         string
	Dir          string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	// Export is the compiled export data, present when listed with -export.
	Export  string
	DepOnly bool
	Error   *struct{ Err string }
}

// ListPackages runs `go list` in dir on patterns. With export, it lists
// their dependencies too and compiles export data, which CheckPackageState
// needs to type-check.
func ListPackages(ctx context.Context, dir string, export bool, patterns ...string) ([]Package, error) {
	args := []string{"list", "-e", "-json"}
	if export {
		args = append(args, "-export", "-deps")
	}
	args = append(args, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []Package
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil && !p.DepOnly {
			return nil, fmt.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// Layer places a tree of packages (a path relative to the module, and
// everything under it) at a rank: a package may import packages of lower
// rank and of its own tree.
type Layer struct {
	Tree string
	Rank int
}

// Layering is the import policy of a module.
type Layering struct {
	Module string
	// Layers are matched by the longest tree that contains a package.
	Layers []Layer
	// ImportedOnlyBy restricts who may import a tree (tests included):
	// tree → the trees allowed to import it. An empty list means nobody.
	ImportedOnlyBy map[string][]string
	// MayImportOnly restricts what a tree may import from the module (tests
	// excluded): tree → the trees it may import.
	MayImportOnly map[string][]string
	// NeverImports forbids a tree (tests excluded) to import packages under
	// any of the listed import-path prefixes, inside the module or not.
	NeverImports map[string][]string
}

// ProjectLayering is adrbench's architecture: cmd → harness → {store,
// workloads, results} → logbackends → adr, with the qualification probe
// and the figures beside the harness.
func ProjectLayering() Layering {
	return Layering{
		Module: "github.com/adrbench/adrbench",
		Layers: []Layer{
			{"adr", 0},
			{"internal", 0},
			{"logbackends", 1},
			{"store", 2},
			{"workloads", 2},
			{"results", 2},
			// Starts members whose flags the store defines.
			{"internal/proccluster", 3},
			{"harness", 4},
			{"plots", 4},
			{"qualify", 5},
			{"plan", 5},
			// Drives harness clusters through faults.
			{"check", 5},
			{"e2e", 6},
			{"internal/lint", 6},
			{"cmd", 7},
		},
		ImportedOnlyBy: map[string][]string{
			// Persistent memory is a log backend's business; the
			// qualification probe measures it through the adr backend.
			"adr": {"adr", "logbackends"},
			"cmd": {},
		},
		MayImportOnly: map[string][]string{
			// Figures are drawn from saved results only.
			"plots": {"results"},
		},
		NeverImports: map[string][]string{
			// The state machine does not know about raft.
			"store/mvcc":  {"go.etcd.io/raft/v3"},
			"store/watch": {"go.etcd.io/raft/v3"},
		},
	}
}

// within reports whether the module-relative path rel is tree or under it.
func within(rel, tree string) bool {
	return rel == tree || strings.HasPrefix(rel, tree+"/")
}

func (l Layering) rel(importPath string) (string, bool) {
	if importPath == l.Module {
		return "", true
	}
	rel, ok := strings.CutPrefix(importPath, l.Module+"/")
	return rel, ok
}

// layer returns the longest layer containing rel.
func (l Layering) layer(rel string) (Layer, bool) {
	var best Layer
	found := false
	for _, ly := range l.Layers {
		if within(rel, ly.Tree) && (!found || len(ly.Tree) > len(best.Tree)) {
			best, found = ly, true
		}
	}
	return best, found
}

func anyWithin(rel string, trees []string) bool {
	return slices.ContainsFunc(trees, func(t string) bool { return within(rel, t) })
}

// CheckImports applies the layering to the module's packages in pkgs.
func CheckImports(l Layering, pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		from, ok := l.rel(p.ImportPath)
		if !ok || p.DepOnly {
			continue
		}
		at := "./" + from
		fl, placed := l.layer(from)
		if !placed {
			out = append(out, Violation{Pos: at, Rule: "layering",
				Msg: fmt.Sprintf("package %s is in no layer: place it in lint.ProjectLayering", from)})
		}
		all := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		for _, imp := range uniq(all) {
			to, inModule := l.rel(imp)
			if !inModule {
				continue
			}
			for tree, allowed := range l.ImportedOnlyBy {
				if within(to, tree) && !anyWithin(from, allowed) {
					out = append(out, Violation{Pos: at, Rule: "layering", Msg: importedOnlyBy(from, to, allowed)})
				}
			}
		}
		for _, imp := range uniq(p.Imports) {
			for tree, prefixes := range l.NeverImports {
				if !within(from, tree) {
					continue
				}
				for _, pre := range prefixes {
					if imp == pre || strings.HasPrefix(imp, pre+"/") {
						out = append(out, Violation{Pos: at, Rule: "layering",
							Msg: fmt.Sprintf("%s imports %s: %s must not depend on %s", from, imp, tree, pre)})
					}
				}
			}
			to, inModule := l.rel(imp)
			if !inModule {
				continue
			}
			for tree, allowed := range l.MayImportOnly {
				if within(from, tree) && !within(to, tree) && !anyWithin(to, allowed) {
					out = append(out, Violation{Pos: at, Rule: "layering",
						Msg: fmt.Sprintf("%s imports %s: %s may import only %s", from, to, tree, strings.Join(allowed, ", "))})
				}
			}
			tl, ok := l.layer(to)
			if !placed || !ok || tl.Tree == fl.Tree {
				continue // unplaced (reported above), or the same layer
			}
			if tl.Rank >= fl.Rank {
				out = append(out, Violation{Pos: at, Rule: "layering",
					Msg: fmt.Sprintf("%s (rank %d) imports %s (rank %d): imports go to lower ranks only", from, fl.Rank, to, tl.Rank)})
			}
		}
	}
	return out
}

func importedOnlyBy(from, to string, allowed []string) string {
	if len(allowed) == 0 {
		return fmt.Sprintf("%s imports %s, which nothing may import", from, to)
	}
	return fmt.Sprintf("%s imports %s, which only %s may import", from, to, strings.Join(allowed, ", "))
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Violation is one finding.
type Violation struct {
	Pos  string // file:line, or a package as ./path
	Rule string // layering, reference, init, package-state
	Msg  string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s: %s", v.Pos, v.Rule, v.Msg) }
