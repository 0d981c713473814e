package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// CreateDataDir creates a member's data directory, with any missing
// parents, durably: the name of every directory it creates is fsynced in
// its parent, and so is the data directory's own name, in case an earlier
// start created it and crashed before its fsync. A crash, power loss
// included, then never takes the directory away from under what the
// member later writes and syncs in it.
func CreateDataDir(dir string) error { return makeDirs(dir, dir) }

// makeDirs creates dir and its missing parents and makes their names
// durable. root is the data directory that holds dir: the parent of every
// directory from dir up to root is fsynced whether or not this call
// created it (a start that crashed between a mkdir and its fsync leaves a
// name that only looks durable), and above root the parent of every
// directory this call created, up to the first that existed. The one
// fsync that may be refused is that of root's parent when root existed
// before: a data dir in a directory the member may not read is its
// owner's to have made durable.
func makeDirs(dir, root string) error {
	dir, root = filepath.Clean(dir), filepath.Clean(root)
	var chain []string // dir first, then its parents
	above := false
	for d := dir; ; d = filepath.Dir(d) {
		if above {
			_, err := os.Stat(d)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		chain = append(chain, d)
		above = above || d == root
		if filepath.Dir(d) == d {
			break
		}
	}
	created := map[string]bool{}
	for i := len(chain) - 1; i >= 0; i-- {
		err := os.Mkdir(chain[i], 0o700)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		created[chain[i]] = err == nil
	}
	synced := map[string]bool{}
	for _, d := range chain {
		parent := filepath.Dir(d)
		if synced[parent] || parent == d {
			continue
		}
		err := (vfs.OS{}).SyncDir(parent)
		if err != nil && !(d == root && !created[d] && errors.Is(err, fs.ErrPermission)) {
			return fmt.Errorf("fsync %s: %w", parent, err)
		}
		synced[parent] = true
	}
	return nil
}
