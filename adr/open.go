package adr

import (
	"fmt"
)

// Open maps the region cfg describes (see RegionConfig and KindAuto) and,
// when cfg.MediaLatency is positive, wraps it with WithMediaLatency. The
// flush instruction is chosen here, once, from CPUID and the region's
// persistence domain, and Info reports it. An emulated or auto config
// needs a Path: fill it with Resolve(dataDir).
//
// Errors wrap ErrRegionConfig (the configuration does not fit what is
// there: a size mismatch, a devdax path that is not a device) or ErrMap
// (the system refused: missing device, permissions, mmap failure, the
// region locked by another Open).
func Open(cfg RegionConfig) (Region, error) {
	return open(cfg, openEnv{sysfs: "/sys", cpu: detectCPU()})
}

// openEnv is what Open reads from the machine, a parameter so that tests
// can substitute a fake sysfs tree or a CPU without flush instructions.
type openEnv struct {
	sysfs string
	cpu   cpuFeatures
}

func open(cfg RegionConfig, env openEnv) (Region, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var r Region
	if cfg.Kind == KindSim {
		r = NewSim(cfg.Size)
	} else {
		if cfg.Path == "" {
			return nil, fmt.Errorf("%w: path: required to open a %q region (Resolve(dataDir) sets the default)", ErrRegionConfig, cfg.Kind)
		}
		var err error
		if r, err = mapRegion(cfg, env); err != nil {
			return nil, err
		}
	}
	if cfg.MediaLatency > 0 {
		r = WithMediaLatency(r, cfg.MediaLatency)
	}
	return r, nil
}
