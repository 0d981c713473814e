//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package adr

import (
	"fmt"
	"os"
)

// Mapping on the BSDs and macOS: there is no device DAX and no MAP_SYNC, so
// only emulated regions open (a file mapped MAP_SHARED); devdax and fsdax
// are refused with an error that says so. Auto means emulated.

// emulatedDir is the temporary directory: these systems have no /dev/shm
// (macOS's $TMPDIR is per user and survives a process crash, as tmpfs does).
func emulatedDir() string { return os.TempDir() }

// allocateFile sizes f; without fallocate the blocks are allocated lazily.
func allocateFile(f *os.File, size int) error { return f.Truncate(int64(size)) }

func mapRegion(cfg RegionConfig, env openEnv) (Region, error) {
	switch cfg.Kind {
	case KindDevDax, KindFSDax:
		return nil, fmt.Errorf("%w: kind: %s needs Linux (device DAX, MAP_SYNC); use %s here", ErrRegionConfig, cfg.Kind, KindEmulated)
	}
	return openEmulated(cfg, env.cpu, "")
}
