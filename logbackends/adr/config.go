package adrlog

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "adr"

// Saved is what a nil error from Save means, in one line.
const Saved = "in the persistent-memory region, flushed and fenced; drained to disk in the background"

// The flags AddFlags binds. The region's keep the names they had as
// serve's own flags.
const (
	flagRegionKind   = "adr-region-kind"
	flagRegionPath   = "adr-region-path"
	flagRegionSize   = "adr-region-size"
	flagMediaLatency = "adr-media-latency"
	flagSegmentSize  = "adr-segment-size"

	flagRegionReset     = "adr-region-reset"
	flagRingFullTimeout = "adr-ring-full-timeout"
)

// DefaultRingFullTimeout is how long a Save waits for the drainer to free
// space in a full ring before it fails and the member stops: long enough
// for a disk that stalls for a while (a write-back storm, a busy shared
// disk), short enough that a disk that stopped is noticed.
const DefaultRingFullTimeout = 30 * time.Second

// Config is the adr backend's configuration.
type Config struct {
	// Region is the persistent-memory region the log is kept in. An
	// empty Path puts an emulated (or auto) region at
	// adr.DefaultEmulatedPath of the backend's directory; the zero value
	// means adr.DefaultRegionConfig().
	Region adr.RegionConfig `yaml:"region" json:"region"`
	// SegmentSize is the preallocated size of a segment file of the disk
	// log the drainer writes.
	SegmentSize int64 `yaml:"segment_size" json:"segment_size"`
	// RegionReset lets Open format a region that does not hold this
	// log's ring (it lost its contents, it is another member's or an
	// older ring of this one, it is damaged), accepting that entries only
	// that ring held are lost; the loss is logged. Without it such an
	// Open fails with ErrRegionMismatch. It has no effect on a region
	// that holds the log's ring.
	RegionReset bool `yaml:"region_reset" json:"region_reset"`
	// RingFullTimeout bounds how long a Save waits for the drainer to
	// free space in a full ring; then it fails with ErrRingFullTimeout.
	// 0 means DefaultRingFullTimeout.
	RingFullTimeout time.Duration `yaml:"ring_full_timeout" json:"ring_full_timeout_ns"`
	// OpenRegion, when set, is called instead of mapping Region: tests
	// hand in a power-loss simulator (adr.Sim). The backend owns what it
	// returns and closes it on Close.
	OpenRegion func() (adr.Region, error) `yaml:"-" json:"-"`

	// skip leaves a step of the binding protocol out (tests only).
	skip bindStep
}

// DefaultConfig returns an emulated region of adr.DefaultRegionSize named
// after the log directory, 64 MiB disk segments, no region reset and
// DefaultRingFullTimeout.
func DefaultConfig() Config {
	return Config{Region: adr.DefaultRegionConfig(), SegmentSize: segment.DefaultSegmentSize, RingFullTimeout: DefaultRingFullTimeout}
}

// Validate names the first bad setting: its flag, or for the region the
// region's flags and the field at fault (wrapping adr.ErrRegionConfig as
// well as logbackends.ErrBadConfig). It touches nothing: a region that is
// configured well but cannot be mapped fails in Open.
func (c Config) Validate() error {
	if err := c.Region.Validate(); err != nil {
		return fmt.Errorf("--%s, --%s, --%s, --%s: %w: %w", flagRegionKind, flagRegionPath, flagRegionSize, flagMediaLatency, logbackends.ErrBadConfig, err)
	}
	if c.RingFullTimeout < 0 {
		return fmt.Errorf("--%s: %w: %v is negative", flagRingFullTimeout, logbackends.ErrBadConfig, c.RingFullTimeout)
	}
	return filelog.CheckSegmentSize(flagSegmentSize, c.SegmentSize)
}

// AddFlags binds c's settings to flags of fs, with c's values as defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Region.Kind, flagRegionKind, c.Region.Kind, "persistent-memory region of --log-backend "+Name+": devdax, fsdax, emulated (a tmpfs file: survives a process crash, not a power loss) or auto")
	fs.StringVar(&c.Region.Path, flagRegionPath, c.Region.Path, "device (/dev/daxN.M) or file of the "+Name+" region (default for emulated: a file on /dev/shm named after the data dir)")
	fs.IntVar(&c.Region.Size, flagRegionSize, c.Region.Size, "size of the "+Name+" region in bytes, a multiple of 4096 (0: the size of the device or existing file)")
	fs.DurationVar(&c.Region.MediaLatency, flagMediaLatency, c.Region.MediaLatency, "write latency added per flushed cache line of the "+Name+" region, to model slower media (labelled emulated)")
	fs.Int64Var(&c.SegmentSize, flagSegmentSize, c.SegmentSize, "preallocated size in bytes of a segment file of the disk log --log-backend "+Name+" drains to")
	fs.BoolVar(&c.RegionReset, flagRegionReset, c.RegionReset, "let the member start when its "+Name+" region does not hold its log's ring (emptied by a reboot, another member's, an older one, damaged): the region is formatted and entries only that ring held are lost from this member (logged); without it such a member refuses to start")
	fs.DurationVar(&c.RingFullTimeout, flagRingFullTimeout, c.RingFullTimeout, "how long a save waits for space in a full "+Name+" region before the member stops with an error (the disk it drains to is not keeping up)")
}

// NewEntry returns the registry entry that opens the backend with cfg.
// Its Destroy also removes the emulated region named after the log
// directory (see Destroy).
func NewEntry(cfg Config) logbackends.Entry {
	return logbackends.Entry{
		Name:    Name,
		Durable: true,
		Saved:   Saved,
		Open:    func(env logbackends.Env) (logbackends.Backend, error) { return Open(env, cfg) },
		Destroy: func(dir string) error { return Destroy(dir, cfg) },
	}
}

// ringFullTimeout is RingFullTimeout with its default filled in.
func (c Config) ringFullTimeout() time.Duration {
	if c.RingFullTimeout == 0 {
		return DefaultRingFullTimeout
	}
	return c.RingFullTimeout
}

// region returns the region configuration the backend maps for the log
// in dir: the zero value is the default, and an empty path is resolved
// against dir.
func (c Config) region(dir string) adr.RegionConfig {
	r := c.Region
	if r == (adr.RegionConfig{}) {
		r = adr.DefaultRegionConfig()
	}
	return r.Resolve(dir)
}

// Destroy removes the log directory dir and, when cfg places the region at
// the default emulated path named after dir, that region: it lives on
// tmpfs, outside dir, and holds its memory until it is removed or the
// machine restarts. A region at a path the configuration names (a device,
// or a file the operator chose) is not the backend's to remove and is left
// alone, as is one handed in by OpenRegion. Nothing there is not an error.
func Destroy(dir string, cfg Config) error {
	var errs []error
	if cfg.OpenRegion == nil && cfg.region(dir).Path == adr.DefaultEmulatedPath(dir) {
		errs = append(errs, adr.RemoveEmulatedRegion(dir))
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
