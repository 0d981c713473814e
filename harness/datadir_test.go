package harness

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/store"
)

// TestClusterDestroysBackendData checks that a cluster in a temporary
// directory takes what its members' backends keep outside it (the adr
// backend's emulated regions on tmpfs) away with it, whether the members
// run in this process or in their own: Close destroys every member's log
// through the registry entry, whose own tests check what that removes.
func TestClusterDestroysBackendData(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) ClusterConfig
		// tmpDir is the cluster's temporary directory.
		tmpDir func(c Cluster) string
	}{
		{"inproc", func(t *testing.T) ClusterConfig { return DefaultClusterConfig() },
			func(c Cluster) string { return c.(*inproc).tmpDir }},
		{"process", func(t *testing.T) ClusterConfig {
			cfg := DefaultClusterConfig()
			cfg.Target, cfg.ServeBinary = TargetProcess, serveBinary(t)
			return cfg
		}, func(c Cluster) string { return c.(*procCluster).tmpDir }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu        sync.Mutex
				destroyed []string
			)
			e := adrlog.NewEntry(adrlog.DefaultConfig())
			destroy := e.Destroy
			e.Destroy = func(dir string) error {
				mu.Lock()
				destroyed = append(destroyed, dir)
				mu.Unlock()
				return destroy(dir)
			}
			r := logbackends.NewRegistry()
			r.Register(e)
			cfg := tc.cfg(t)
			cfg.LogBackend = adrlog.Name
			c, err := StartCluster(ctxT(t), cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			tmp := tc.tmpDir(c)
			logDir := store.LogDir(filepath.Join(tmp, "m0"))
			t.Cleanup(func() { _ = destroy(logDir) })
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(destroyed, logDir) {
				t.Fatalf("destroyed %v, want %s among them", destroyed, logDir)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("data dir %s still there after Close (%v)", tmp, err)
			}
		})
	}
}
