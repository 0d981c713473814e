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

// TestInprocAdrLeavesNoRegion checks that a cluster in a temporary
// directory takes its members' emulated regions (on tmpfs, outside the
// directory) away with it.
func TestInprocAdrLeavesNoRegion(t *testing.T) {
	r := logbackends.NewRegistry()
	r.Register(adrlog.Name, adrlog.Open)
	cfg := DefaultClusterConfig()
	cfg.LogBackend = adrlog.Name
	c, err := StartCluster(ctxT(t), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	tmp := c.(*inproc).tmpDir
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
}
