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

// TestInprocDestroysBackendData checks that a cluster in a temporary
// directory takes what its members' backends keep outside it (the adr
// backend's emulated regions on tmpfs) away with it: Close destroys every
// member's log through the registry entry, whose own tests check what
// that removes.
func TestInprocDestroysBackendData(t *testing.T) {
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
	cfg := DefaultClusterConfig()
	cfg.LogBackend = adrlog.Name
	c, err := StartCluster(ctxT(t), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	tmp := c.(*inproc).tmpDir
	logDir := store.LogDir(filepath.Join(tmp, "m0"))
	t.Cleanup(func() { _ = destroy(logDir) })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(destroyed, []string{logDir}) {
		t.Fatalf("destroyed %v, want [%s]", destroyed, logDir)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data dir %s still there after Close (%v)", tmp, err)
	}
}
