package lint

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
)

// CheckPackageState reports init functions and package-level variables
// that are written after their declaration, in every package of module
// (listed with export data, see ListPackages) other than package main.
// root is what positions are reported relative to.
func CheckPackageState(module, root string, pkgs []Package) ([]Violation, error) {
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	var out []Violation
	l := Layering{Module: module}
	for _, p := range pkgs {
		if _, ok := l.rel(p.ImportPath); !ok || p.DepOnly || p.Name == "main" {
			continue
		}
		files, err := parseFiles(fset, p.Dir, p.GoFiles)
		if err != nil {
			return nil, err
		}
		tests, err := parseFiles(fset, p.Dir, append(append([]string(nil), p.TestGoFiles...), p.XTestGoFiles...))
		if err != nil {
			return nil, err
		}
		for _, f := range append(append([]*ast.File(nil), files...), tests...) {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
					out = append(out, violation(fset, root, fd.Pos(), "init",
						"an init function: build registries and defaults as values in main and pass them in"))
				}
			}
		}
		info := &types.Info{
			Uses:       map[*ast.Ident]types.Object{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
		}
		conf := types.Config{Importer: imp, Error: func(error) {}}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			return nil, fmt.Errorf("type-check %s: %w", p.ImportPath, err)
		}
		for _, f := range files {
			out = append(out, packageWrites(fset, root, info, f)...)
		}
	}
	return out, nil
}

func parseFiles(fset *token.FileSet, dir string, names []string) ([]*ast.File, error) {
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func violation(fset *token.FileSet, root string, pos token.Pos, rule, msg string) Violation {
	p := fset.Position(pos)
	if rel, err := filepath.Rel(root, p.Filename); err == nil {
		p.Filename = filepath.ToSlash(rel)
	}
	return Violation{Pos: fmt.Sprintf("%s:%d", p.Filename, p.Line), Rule: rule, Msg: msg}
}

// packageVar returns the package-level variable that e writes into when
// it is assigned to: v in v, v.f, v[i], *v, (v).
func packageVar(info *types.Info, e ast.Expr) *types.Var {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			if v := asPackageVar(info.Uses[x.Sel]); v != nil {
				return v // pkg.V, or a field that is itself such a var
			}
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.Ident:
			return asPackageVar(info.Uses[x])
		default:
			return nil
		}
	}
}

func asPackageVar(o types.Object) *types.Var {
	v, ok := o.(*types.Var)
	if !ok || v.IsField() || v.Pkg() == nil || v.Parent() != v.Pkg().Scope() {
		return nil
	}
	return v
}

// packageWrites finds every write to a package-level variable in f's
// function bodies.
func packageWrites(fset *token.FileSet, root string, info *types.Info, f *ast.File) []Violation {
	var out []Violation
	report := func(pos token.Pos, v *types.Var, how string) {
		out = append(out, violation(fset, root, pos, "package-state",
			fmt.Sprintf("package-level variable %s.%s is %s: keep state in values that are passed in", v.Pkg().Name(), v.Name(), how)))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE {
				return true
			}
			for _, lhs := range x.Lhs {
				if v := packageVar(info, lhs); v != nil {
					report(lhs.Pos(), v, "assigned")
				}
			}
		case *ast.RangeStmt:
			if x.Tok == token.ASSIGN {
				for _, e := range []ast.Expr{x.Key, x.Value} {
					if v := packageVar(info, e); e != nil && v != nil {
						report(e.Pos(), v, "assigned")
					}
				}
			}
		case *ast.IncDecStmt:
			if v := packageVar(info, x.X); v != nil {
				report(x.Pos(), v, "incremented or decremented")
			}
		case *ast.UnaryExpr:
			if x.Op == token.AND {
				if v := packageVar(info, x.X); v != nil {
					report(x.Pos(), v, "shared by address")
				}
			}
		case *ast.SelectorExpr:
			// A pointer method called on an addressable variable takes
			// its address: v.Lock(), v.Add(1), v.Get().
			sel := info.Selections[x]
			if sel == nil || sel.Kind() != types.MethodVal {
				return true
			}
			sig, ok := sel.Obj().Type().(*types.Signature)
			if !ok || sig.Recv() == nil {
				return true
			}
			if _, ptrRecv := sig.Recv().Type().(*types.Pointer); !ptrRecv {
				return true
			}
			if v := packageVar(info, x.X); v != nil {
				if _, isPtr := v.Type().Underlying().(*types.Pointer); !isPtr {
					report(x.Pos(), v, "changed through a pointer method")
				}
			}
		}
		return true
	})
	return out
}
