//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package adr

import (
	"fmt"
	"os"
)

// Mapping elsewhere (Windows, Plan 9, wasm): not supported; only the
// simulator (KindSim) opens.

func emulatedDir() string { return os.TempDir() }

func mapRegion(cfg RegionConfig, env openEnv) (Region, error) {
	return nil, fmt.Errorf("%w: kind: %s regions are not supported on this operating system; only %s is", ErrRegionConfig, cfg.Kind, KindSim)
}
