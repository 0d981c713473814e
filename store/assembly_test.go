package store

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOnlyServerHoldsServer keeps the assembly one way: the server builds
// its parts and hands each what it uses, and no part reaches back into the
// whole server.
func TestOnlyServerHoldsServer(t *testing.T) {
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no source files found next to the test")
	}
	if got := serverHolders(fset, files); len(got) > 0 {
		t.Fatalf("fields other than Server's hold the server: %s", strings.Join(got, ", "))
	}
}

func TestServerHolders(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "pointer field", src: "type a struct{ s *Server }", want: []string{"a.s"}},
		{name: "embedded pointer", src: "type a struct{ *Server }", want: []string{"a.Server"}},
		{name: "embedded value", src: "type a struct{ Server }", want: []string{"a.Server"}},
		{name: "slice", src: "type a struct{ all []*Server }", want: []string{"a.all"}},
		{name: "map value", src: "type a struct{ byID map[uint64]*Server }", want: []string{"a.byID"}},
		{name: "func field", src: "type a struct{ f func(*Server) error }", want: []string{"a.f"}},
		{name: "nested struct", src: "type a struct{ inner struct{ s *Server } }", want: []string{"a.inner.s"}},
		{name: "anonymous struct", src: "var x struct{ s *Server }", want: []string{"struct at t.go:3.s"}},
		{name: "server itself", src: "type Server struct{ next *Server; parts struct{ s *Server } }"},
		{name: "narrow dependencies", src: "type a struct{ leader func() uint64; status *nodeStatus; srv *ServerConfig }"},
		{name: "other packages' servers", src: "type a struct{ g *grpc.Server; h []*http.Server }"},
		{name: "method on server", src: "type a struct{ n int }\nfunc (s *Server) f(x *Server) *Server { return s }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "t.go", "package store\n\n"+tt.src+"\n", parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			got := serverHolders(fset, []*ast.File{f})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// serverHolders names every struct field outside type Server whose type
// mentions this package's Server: a pointer to it, a value of it, or a
// slice, map, channel or function of it.
func serverHolders(fset *token.FileSet, files []*ast.File) []string {
	var out []string
	var walkStruct func(prefix string, st *ast.StructType)
	walkStruct = func(prefix string, st *ast.StructType) {
		for _, field := range st.Fields.List {
			names := fieldNames(field)
			for _, name := range names {
				if nested, ok := field.Type.(*ast.StructType); ok {
					walkStruct(prefix+name+".", nested)
					continue
				}
				if mentionsServer(field.Type) {
					out = append(out, prefix+name)
				}
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				if n.Name.Name == "Server" {
					return false
				}
				if st, ok := n.Type.(*ast.StructType); ok {
					walkStruct(n.Name.Name+".", st)
					return false
				}
			case *ast.StructType:
				p := fset.Position(n.Pos())
				walkStruct(fmt.Sprintf("struct at %s:%d.", p.Filename, p.Line), n)
				return false
			}
			return true
		})
	}
	return out
}

// fieldNames returns a field's names, or for an embedded field the name
// of its type.
func fieldNames(f *ast.Field) []string {
	if len(f.Names) > 0 {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = n.Name
		}
		return names
	}
	t := f.Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if sel, ok := t.(*ast.SelectorExpr); ok {
		return []string{sel.Sel.Name}
	}
	if id, ok := t.(*ast.Ident); ok {
		return []string{id.Name}
	}
	return []string{"?"}
}

func mentionsServer(expr ast.Expr) bool {
	found := false
	ast.Inspect(expr, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			return false // another package's Server, such as grpc.Server
		case *ast.Ident:
			found = found || n.Name == "Server"
		}
		return !found
	})
	return found
}
