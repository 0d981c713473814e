package logbackends

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Entry is one backend in a Registry: how to open it, with the
// configuration it was built with, and what it promises.
//
// Whether a backend is emulated is not part of an Entry, because it is not
// known before Open: the adr backend's region of kind auto is emulated
// unless the kernel maps it as real persistent memory, and any file backend
// is emulated when its Env.FS is wrapped by a disk profile. An open backend
// says what it emulates in Stats.Emulated.
type Entry struct {
	// Name is what --log-backend, Stats and results call the backend.
	Name string
	// Durable says that a nil error from Save means raft's stable storage:
	// what was saved survives a crash of the machine, on hardware that
	// keeps the backend's promise (for adr, a persistence domain covering
	// its region). A backend that acknowledges before that (async) or
	// keeps nothing (memory) is not durable: a cluster on it can lose
	// acknowledged writes, and results label it unsafe.
	Durable bool
	// Saved is what a nil error from Save means, in one line (the table
	// in the package comment).
	Saved string
	// Open opens a member's backend.
	Open Opener
	// Destroy, when set, removes everything the backend keeps for the
	// member whose Env.Dir is dir, on the real file system: dir itself
	// and whatever lies outside it (the adr backend's emulated region on
	// tmpfs). Nil means dir is all there is. Call it only once the member
	// is stopped for good.
	Destroy func(dir string) error
}

// Registry maps backend names to entries. It is a value built by the
// caller (cmd/ or a test), never a package-level table.
type Registry struct {
	entries map[string]Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]Entry{}} }

// Register adds e. An entry without a name or an Open, or a name
// registered twice, is a programming error.
func (r *Registry) Register(e Entry) {
	switch {
	case e.Name == "" || e.Open == nil:
		panic(fmt.Sprintf("logbackends: entry %q registered without a name or an Open", e.Name))
	case r.has(e.Name):
		panic(fmt.Sprintf("logbackends: backend %q registered twice", e.Name))
	}
	r.entries[e.Name] = e
}

func (r *Registry) has(name string) bool {
	_, ok := r.entries[name]
	return ok
}

// Names returns the registered names in order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Entries returns the registered entries in name order.
func (r *Registry) Entries() []Entry {
	out := make([]Entry, 0, len(r.entries))
	for _, n := range r.Names() {
		out = append(out, r.entries[n])
	}
	return out
}

// Lookup returns the entry called name; an unknown name is
// ErrUnknownBackend, with the known ones listed.
func (r *Registry) Lookup(name string) (Entry, error) {
	e, ok := r.entries[name]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownBackend, name, strings.Join(r.Names(), ", "))
	}
	return e, nil
}

// Open opens the backend called name in env.
func (r *Registry) Open(name string, env Env) (Backend, error) {
	e, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	return e.Open(env)
}

// Destroy removes everything the backend called name keeps for the member
// whose log directory is dir (see Entry.Destroy). Nothing there is not an
// error.
func (r *Registry) Destroy(name, dir string) error {
	e, err := r.Lookup(name)
	if err != nil {
		return err
	}
	if e.Destroy != nil {
		err = e.Destroy(dir)
	} else {
		err = os.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("destroy the %s log in %s: %w", name, dir, err)
	}
	return nil
}
