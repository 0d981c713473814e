package harness

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/store"
)

// removeDataDir removes one member's data directory and the emulated
// persistent-memory region the adr backend keeps for it on tmpfs, which
// lives outside the directory and would otherwise hold its memory until
// the machine restarts. Members on other backends have no region; removing
// a missing one is not an error.
func removeDataDir(dir string) error {
	return errors.Join(adr.RemoveEmulatedRegion(store.LogDir(dir)), os.RemoveAll(dir))
}

// removeDataDirs removes a temporary directory holding members' data
// directories, each with its region.
func removeDataDirs(root string) error {
	var errs []error
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, adr.RemoveEmulatedRegion(store.LogDir(filepath.Join(root, e.Name()))))
		}
	}
	return errors.Join(append(errs, os.RemoveAll(root))...)
}
