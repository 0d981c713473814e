package adr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// KindAuto lets Open choose the kind from Path: a character device is
// devdax; a file that the kernel maps with MAP_SYNC is fsdax; anything else
// (an ordinary or tmpfs file, or no Path at all) is emulated. The empty
// Kind means the same. Auto never takes the msync fallback of fsdax: a file
// without DAX is reported as what it is, an emulated region.
const KindAuto = "auto"

// DefaultRegionSize is the size of a region when none is configured: the
// "< 100 MB" region of the Intel ADR story, a power of two so that it is a
// multiple of every devdax alignment (4 KiB, 2 MiB, 1 GiB would not be:
// configure 1 GiB alignments explicitly).
const DefaultRegionSize = 64 << 20

// regionPageSize is the granularity a region's size must have: the x86-64
// page size, which every devdax alignment is a multiple of. Open checks the
// device's own alignment as well.
const regionPageSize = 4096

// RegionConfig says which persistent-memory region to map and how.
type RegionConfig struct {
	// Kind is KindDevDax, KindFSDax, KindEmulated, KindSim (the in-memory
	// power-loss simulator; nothing survives Close), or KindAuto / "".
	Kind string `yaml:"kind" json:"kind"`
	// Path is the device (/dev/daxN.M) or file. Required for devdax and
	// fsdax; for emulated, Resolve fills it with DefaultEmulatedPath.
	Path string `yaml:"path" json:"path"`
	// Size is the region's size in bytes, a multiple of 4096 (and of the
	// device's alignment for devdax). 0 takes the size of what is there:
	// the device's size, or the existing file's.
	Size int `yaml:"size" json:"size"`
	// MediaLatency, when positive, is added on Fence for every cache line
	// flushed since the previous Fence, to model media slower than DRAM.
	// The region is then reported as emulated.
	MediaLatency time.Duration `yaml:"media_latency" json:"media_latency_ns"`
}

// DefaultRegionConfig returns an emulated region of DefaultRegionSize with
// no added media latency and no Path yet: call Resolve with the data
// directory to place it.
func DefaultRegionConfig() RegionConfig {
	return RegionConfig{Kind: KindEmulated, Size: DefaultRegionSize}
}

// Validate checks the configuration without touching the system and names
// the first bad field. It accepts an emulated or auto config without a Path
// (Resolve fills it); Open does not.
func (c RegionConfig) Validate() error {
	switch c.Kind {
	case "", KindAuto, KindEmulated, KindSim:
	case KindDevDax, KindFSDax:
		if c.Path == "" {
			return fmt.Errorf("%w: path: required for kind %q", ErrRegionConfig, c.Kind)
		}
	default:
		return fmt.Errorf("%w: kind: %q is not one of %s, %s, %s, %s, %s", ErrRegionConfig,
			c.Kind, KindDevDax, KindFSDax, KindEmulated, KindSim, KindAuto)
	}
	if c.Size < 0 {
		return fmt.Errorf("%w: size: %d is negative", ErrRegionConfig, c.Size)
	}
	if c.Size%regionPageSize != 0 {
		return fmt.Errorf("%w: size: %d is not a multiple of %d", ErrRegionConfig, c.Size, regionPageSize)
	}
	if c.Kind == KindSim && c.Size == 0 {
		return fmt.Errorf("%w: size: the simulator needs an explicit size", ErrRegionConfig)
	}
	if c.MediaLatency < 0 {
		return fmt.Errorf("%w: media_latency: %v is negative", ErrRegionConfig, c.MediaLatency)
	}
	return nil
}

// Resolve fills what a configuration leaves to its owner: an emulated or
// auto region without a Path gets DefaultEmulatedPath(dataDir), and an
// empty Kind becomes KindAuto. It does not touch the file system.
func (c RegionConfig) Resolve(dataDir string) RegionConfig {
	if c.Kind == "" {
		c.Kind = KindAuto
	}
	if c.Path == "" && (c.Kind == KindEmulated || c.Kind == KindAuto) {
		c.Path = DefaultEmulatedPath(dataDir)
	}
	return c
}

// DefaultEmulatedPath returns where the emulated region of the member
// whose data directory is dataDir lives: a file on tmpfs (/dev/shm on
// Linux, the temporary directory elsewhere) named after a short hash of the
// absolute data directory. The name is deterministic so that a member that
// is killed and restarted maps the same region again and finds its log
// there; tmpfs keeps it across a process crash, not across a power loss or
// a reboot, which is why the region is labelled emulated.
func DefaultEmulatedPath(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		// Abs fails only when the working directory is gone; the cleaned
		// relative path is still deterministic for this process.
		abs = filepath.Clean(dataDir)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(emulatedDir(), "adrbench-"+hex.EncodeToString(sum[:6])+".pmem")
}

// RemoveEmulatedRegion deletes the default emulated region of dataDir. Call
// it wherever the data directory itself is deleted: tmpfs holds the
// region's memory until it is removed or the machine reboots, so a test or
// a benchmark that starts members in temporary directories would otherwise
// leak a region per member. A region that does not exist is not an error.
func RemoveEmulatedRegion(dataDir string) error {
	err := os.Remove(DefaultEmulatedPath(dataDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: removing emulated region: %w", ErrMap, err)
	}
	return nil
}
