package logbackends_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/memory"
)

// entry is an Entry whose Open records the Env it was given.
func entry(name string, durable bool, opened *[]logbackends.Env) logbackends.Entry {
	return logbackends.Entry{Name: name, Durable: durable, Saved: name + " saved",
		Open: func(env logbackends.Env) (logbackends.Backend, error) {
			*opened = append(*opened, env)
			return memory.Open(env)
		}}
}

func TestRegistryOpen(t *testing.T) {
	var opened []logbackends.Env
	r := logbackends.NewRegistry()
	r.Register(entry("zeta", true, &opened))
	r.Register(entry("alpha", false, &opened))
	if got := r.Names(); !slices.Equal(got, []string{"alpha", "zeta"}) {
		t.Fatalf("Names = %v", got)
	}
	var durable []bool
	for _, e := range r.Entries() {
		durable = append(durable, e.Durable)
	}
	if !slices.Equal(durable, []bool{false, true}) {
		t.Fatalf("Entries in name order say durable %v, want [false true]", durable)
	}
	tests := []struct {
		name    string
		backend string
		wantErr error
	}{
		{name: "registered", backend: "zeta"},
		{name: "unknown", backend: "tape", wantErr: logbackends.ErrUnknownBackend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened = nil
			env := logbackends.Env{Dir: "/log/" + tt.backend}
			b, err := r.Open(tt.backend, env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if !strings.Contains(err.Error(), `"tape" (known: alpha, zeta)`) {
					t.Fatalf("error %q does not name the backend and the known ones", err)
				}
				if len(opened) != 0 {
					t.Fatalf("an unknown name opened %v", opened)
				}
				return
			}
			defer b.Close()
			if len(opened) != 1 || opened[0] != env {
				t.Fatalf("the entry's Open got %v, want [%v]", opened, env)
			}
			e, err := r.Lookup(tt.backend)
			if err != nil || e.Name != tt.backend || e.Saved != tt.backend+" saved" {
				t.Fatalf("Lookup = %+v, %v", e, err)
			}
		})
	}
}

func TestRegistryDestroy(t *testing.T) {
	var destroyed []string
	r := logbackends.NewRegistry()
	r.Register(logbackends.Entry{Name: "plain", Open: memory.Open})
	r.Register(logbackends.Entry{Name: "outside", Open: memory.Open, Destroy: func(dir string) error {
		destroyed = append(destroyed, dir)
		return os.RemoveAll(dir)
	}})
	r.Register(logbackends.Entry{Name: "failing", Open: memory.Open, Destroy: func(string) error { return fs.ErrPermission }})
	tests := []struct {
		name, backend string
		wantErr       error
		wantGone      bool
		entryDestroys bool // the entry's own Destroy gets the directory
	}{
		{name: "without a Destroy the directory is removed", backend: "plain", wantGone: true},
		{name: "with a Destroy it is the entry's", backend: "outside", wantGone: true, entryDestroys: true},
		{name: "a failing Destroy is reported", backend: "failing", wantErr: fs.ErrPermission},
		{name: "an unknown backend destroys nothing", backend: "tape", wantErr: logbackends.ErrUnknownBackend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			destroyed = nil
			dir := filepath.Join(t.TempDir(), "wal")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			err := r.Destroy(tt.backend, dir)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Destroy = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.backend) {
				t.Fatalf("error %q does not name the backend", err)
			}
			_, statErr := os.Stat(dir)
			if gone := errors.Is(statErr, fs.ErrNotExist); gone != tt.wantGone {
				t.Fatalf("directory gone: %v, want %v", gone, tt.wantGone)
			}
			var want []string
			if tt.entryDestroys {
				want = []string{dir}
			}
			if !slices.Equal(destroyed, want) {
				t.Fatalf("entry's Destroy got %v, want %v", destroyed, want)
			}
		})
	}
	if err := r.Destroy("plain", filepath.Join(t.TempDir(), "never-made")); err != nil {
		t.Fatalf("destroying nothing: %v", err)
	}
}

func TestRegisterRejectsBadEntries(t *testing.T) {
	tests := []struct {
		name  string
		entry logbackends.Entry
	}{
		{name: "no name", entry: logbackends.Entry{Open: memory.Open}},
		{name: "no Open", entry: logbackends.Entry{Name: "x"}},
		{name: "a name twice", entry: logbackends.Entry{Name: memory.Name, Open: memory.Open}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := logbackends.NewRegistry()
			r.Register(memory.NewEntry())
			defer func() {
				if recover() == nil {
					t.Fatal("Register accepted the entry")
				}
			}()
			r.Register(tt.entry)
		})
	}
}

func TestStatsNamedValues(t *testing.T) {
	st := logbackends.Stats{
		Counters: []logbackends.Counter{{Name: "disk_syncs", Unit: "syncs", Value: 7}, {Name: "zero", Value: 0}},
		Facts:    []logbackends.Fact{{Name: logbackends.FactFlushInstruction, Value: "clwb"}},
	}
	tests := []struct {
		name    string
		counter string
		want    uint64
		ok      bool
	}{
		{"reported", "disk_syncs", 7, true},
		{"reported as zero", "zero", 0, true},
		{"not reported", "ring_full_waits", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := st.Counter(tt.counter); got != tt.want || ok != tt.ok {
				t.Fatalf("Counter(%q) = %d, %v; want %d, %v", tt.counter, got, ok, tt.want, tt.ok)
			}
		})
	}
	if got := st.Fact(logbackends.FactFlushInstruction); got != "clwb" {
		t.Fatalf("Fact = %q", got)
	}
	if got := st.Fact("region_kind"); got != "" {
		t.Fatalf("Fact of an unreported name = %q", got)
	}
}
