package harness

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/store"
)

// removeDataDir removes one member's data directory and everything its log
// backend keeps for it outside the directory (store.RemoveDataDir), such
// as the adr backend's emulated region on tmpfs, which would otherwise hold
// its memory until the machine restarts. Without a registry, or for a
// backend the registry does not know, the members are not ours to know
// about (real etcd) and only the directory is removed.
func removeDataDir(backends *logbackends.Registry, backend, dir string) error {
	if backends == nil {
		return os.RemoveAll(dir)
	}
	if _, err := backends.Lookup(backend); err != nil {
		return os.RemoveAll(dir)
	}
	return store.RemoveDataDir(backends, backend, dir)
}

// removeDataDirs removes a temporary directory holding members' data
// directories, each with what its backend keeps outside it.
func removeDataDirs(backends *logbackends.Registry, backend, root string) error {
	var errs []error
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeDataDir(backends, backend, filepath.Join(root, e.Name())))
		}
	}
	return errors.Join(append(errs, os.RemoveAll(root))...)
}
