package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/adrbench/adrbench/internal/lossyfs"
)

// stallableDisk is the FUSE pass-through file system the members' data
// directories share with ClusterConfig.DiskStalls: every write goes to the
// backing directory at once, and the syncs under one member's directory
// can be slowed while it runs (lossyfs.FS.SetSyncDelay). The process that
// serves the mount starts the members while it holds their log files on
// it open, which go-fuse documents as able to deadlock under GOMAXPROCS=1.
type stallableDisk struct {
	fs         *lossyfs.FS
	mountpoint string
}

// mountStallable mounts a pass-through file system over backing on a new
// temporary directory. Syncs through it sync the backing files, so they
// cost what the disk charges, plus any stall.
func mountStallable(backing string) (*stallableDisk, error) {
	if err := lossyfs.Available(); err != nil {
		return nil, fmt.Errorf("%w: disk stalls: %w", ErrTarget, err)
	}
	if n := runtime.GOMAXPROCS(0); n < 2 {
		return nil, fmt.Errorf("%w: disk stalls need GOMAXPROCS of 2 or more, not %d: this process serves the mount and starts members while it holds files on it open, which go-fuse can deadlock on with one", ErrTarget, n)
	}
	fsys, err := lossyfs.New(backing, lossyfs.Options{PassThrough: true, SyncBacking: true})
	if err != nil {
		return nil, fmt.Errorf("%w: disk stalls: %w", ErrTarget, err)
	}
	mnt, err := os.MkdirTemp("", "adrbench-stall-")
	if err != nil {
		return nil, fmt.Errorf("%w: disk stalls: %w", ErrTarget, err)
	}
	if err := fsys.Mount(mnt); err != nil {
		return nil, errors.Join(fmt.Errorf("%w: disk stalls: %w", ErrTarget, err), os.Remove(mnt))
	}
	return &stallableDisk{fs: fsys, mountpoint: mnt}, nil
}

// stall sets the sync delay of dataDir, a directory on the mount.
func (d *stallableDisk) stall(dataDir string, delay time.Duration) error {
	rel, err := filepath.Rel(d.mountpoint, dataDir)
	if err != nil {
		return fmt.Errorf("%w: disk stall of %s: %w", ErrTarget, dataDir, err)
	}
	if err := d.fs.SetSyncDelay(rel, delay); err != nil {
		return fmt.Errorf("%w: disk stall of %s: %w", ErrConfig, dataDir, err)
	}
	return nil
}

// unmountPatience bounds how long close keeps trying to unmount: the
// kernel releases the files of a member that died asynchronously, and
// the mount is busy until it has (go-fuse itself tries for a few hundred
// milliseconds only, too little on a loaded machine).
const unmountPatience = 15 * time.Second

// close unmounts the file system and removes the mountpoint. The members
// must be gone.
func (d *stallableDisk) close() error {
	deadline := time.Now().Add(unmountPatience)
	for {
		err := d.fs.Unmount()
		if err == nil || errors.Is(err, lossyfs.ErrNotMounted) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: disk stalls: %w (still mounted on %s)", ErrTarget, err, d.mountpoint)
		}
		time.Sleep(100 * time.Millisecond) // polling the kernel's releases
	}
	return errors.Join(d.fs.Close(), os.Remove(d.mountpoint))
}
