package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/adrbench/adrbench/internal/lossyfs"
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

// TestMakeDirsSurvivesPowerCut creates directories on a lossyfs mount
// where a name is durable only once its directory is fsynced, cuts the
// power, and checks what is left: everything makeDirs made, and nothing
// os.MkdirAll made, which is what makes this test able to fail.
func TestMakeDirsSurvivesPowerCut(t *testing.T) {
	if err := lossyfs.Available(); err != nil {
		t.Skipf("SKIPPING the power-cut test of directory creation: %v", err)
	}
	tests := []struct {
		name string
		// setup runs before the cut; want is the directory that must be
		// left, or that must be gone when gone is set.
		setup func(t *testing.T, mnt string) (want string, gone bool)
	}{
		{name: "a whole new path", setup: func(t *testing.T, mnt string) (string, bool) {
			dir := filepath.Join(mnt, "a", "b", "data", "member", "snap")
			mustOK(t, makeDirs(dir, filepath.Join(mnt, "a", "b", "data")))
			return dir, false
		}},
		{name: "a data dir another start made without an fsync", setup: func(t *testing.T, mnt string) (string, bool) {
			mustOK(t, os.Mkdir(filepath.Join(mnt, "data"), 0o700))
			dir := filepath.Join(mnt, "data", "member", "wal")
			mustOK(t, makeDirs(dir, filepath.Join(mnt, "data")))
			return dir, false
		}},
		{name: "the data dir alone", setup: func(t *testing.T, mnt string) (string, bool) {
			dir := filepath.Join(mnt, "x", "data")
			mustOK(t, CreateDataDir(dir))
			return dir, false
		}},
		{name: "os.MkdirAll, for contrast", setup: func(t *testing.T, mnt string) (string, bool) {
			dir := filepath.Join(mnt, "data", "member")
			mustOK(t, os.MkdirAll(dir, 0o700))
			return dir, true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mnt := t.TempDir()
			lfs, err := lossyfs.New(t.TempDir(), lossyfs.Options{Namespace: lossyfs.NamespaceDirSync})
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, lfs.Mount(mnt))
			t.Cleanup(func() {
				if err := lfs.Close(); err != nil {
					t.Errorf("lossyfs: %v", err)
				}
			})
			want, gone := tt.setup(t, mnt)
			if _, err := lfs.PowerCut(); err != nil {
				t.Fatal(err)
			}
			mustOK(t, lfs.Unmount())
			mustOK(t, lfs.Mount(mnt))
			_, err = os.Stat(want)
			if gone != os.IsNotExist(err) || (!gone && err != nil) {
				t.Fatalf("after the cut, stat %s: %v (want it gone: %v)", want, err, gone)
			}
		})
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
