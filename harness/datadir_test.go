package harness

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/store"
)

// TestAdrLeavesNoRegion checks that a cluster in a temporary directory
// takes its members' emulated regions (on tmpfs, outside the directory)
// away with it, whether the members run in this process or in their own.
func TestAdrLeavesNoRegion(t *testing.T) {
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
			r := logbackends.NewRegistry()
			r.Register(adrlog.Name, adrlog.Open)
			cfg := tc.cfg(t)
			cfg.LogBackend = adrlog.Name
			c, err := StartCluster(ctxT(t), cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			tmp := tc.tmpDir(c)
			region := adr.DefaultEmulatedPath(store.LogDir(filepath.Join(tmp, "m0")))
			t.Cleanup(func() { os.Remove(region) })
			if _, err := os.Stat(region); err != nil {
				t.Fatalf("member 0's region: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(region); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("region %s still there after Close (%v)", region, err)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("temporary directory %s still there after Close (%v)", tmp, err)
			}
		})
	}
}
