package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/memory"
)

// TestRemoveDataDir checks that a data directory goes with what its log
// backend keeps outside it: the backend's Destroy is handed the log
// directory, and the data directory is gone afterwards whatever Destroy
// did.
func TestRemoveDataDir(t *testing.T) {
	outside := errors.New("outside the data dir")
	tests := []struct {
		name    string
		backend string
		wantErr error
	}{
		{name: "backend with a Destroy", backend: "keeper"},
		{name: "backend whose Destroy fails", backend: "failing", wantErr: outside},
		{name: "backend without a Destroy", backend: memory.Name},
		{name: "unknown backend", backend: "tape", wantErr: logbackends.ErrUnknownBackend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "m0")
			if err := os.MkdirAll(LogDir(dataDir), 0o700); err != nil {
				t.Fatal(err)
			}
			var destroyed []string
			open := func(logbackends.Env) (logbackends.Backend, error) { return nil, errors.New("not opened here") }
			r := logbackends.NewRegistry()
			r.Register(memory.NewEntry())
			r.Register(logbackends.Entry{Name: "keeper", Open: open, Destroy: func(dir string) error {
				destroyed = append(destroyed, dir)
				return os.RemoveAll(dir)
			}})
			r.Register(logbackends.Entry{Name: "failing", Open: open, Destroy: func(string) error { return outside }})

			err := RemoveDataDir(r, tt.backend, dataDir)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("RemoveDataDir = %v, want %v", err, tt.wantErr)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("data dir still there: %v", err)
			}
			if tt.backend == "keeper" && (len(destroyed) != 1 || destroyed[0] != LogDir(dataDir)) {
				t.Fatalf("Destroy was called on %v, want [%s]", destroyed, LogDir(dataDir))
			}
		})
	}
}

// TestLogBackendKnowsItsMember checks that the log backend is opened in
// the member's log directory with the member's and the cluster's ids and
// a logger, which the adr backend records in its region to tell its own
// ring from another member's.
func TestLogBackendKnowsItsMember(t *testing.T) {
	var (
		mu   sync.Mutex
		envs []logbackends.Env
	)
	r := logbackends.NewRegistry()
	inner := memory.NewEntry()
	r.Register(logbackends.Entry{Name: "probe", Saved: inner.Saved, Open: func(env logbackends.Env) (logbackends.Backend, error) {
		mu.Lock()
		envs = append(envs, env)
		mu.Unlock()
		return inner.Open(env)
	}})
	c := newTestCluster(t, 2, clusterOpts{backend: "probe", reg: r})
	mu.Lock()
	defer mu.Unlock()
	if len(envs) != 2 {
		t.Fatalf("%d opens, want 2", len(envs))
	}
	for i, env := range envs {
		m := c.members[i]
		if env.MemberID != m.ID() || env.ClusterID != m.ClusterID() || env.MemberID == 0 || env.ClusterID == 0 || env.Logger == nil ||
			env.Dir != LogDir(c.cfgs[i].DataDir) {
			t.Errorf("member %d (%x of cluster %x) opened its log with %+v", i, m.ID(), m.ClusterID(), env)
		}
	}
}
