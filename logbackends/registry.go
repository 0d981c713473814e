package logbackends

import (
	"fmt"
	"sort"
	"strings"
)

// Registry maps backend names to openers. It is a value built by the caller
// (cmd/ or a test), never a package-level table.
type Registry struct {
	openers map[string]Opener
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{openers: map[string]Opener{}} }

// Register adds a backend under name. Registering a name twice is a
// programming error.
func (r *Registry) Register(name string, o Opener) {
	if _, dup := r.openers[name]; dup {
		panic(fmt.Sprintf("logbackends: backend %q registered twice", name))
	}
	r.openers[name] = o
}

// Names returns the registered names in order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.openers))
	for n := range r.openers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the backend called name.
func (r *Registry) Open(name string, opts Options) (Backend, error) {
	o, ok := r.openers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownBackend, name, strings.Join(r.Names(), ", "))
	}
	return o(opts)
}
