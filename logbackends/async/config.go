package async

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "async"

// Saved is what a nil error from Save means, in one line.
const Saved = "accepted, synced later on an interval: NOT stable storage, a crash loses up to one interval"

// DefaultSyncInterval is how often DefaultConfig syncs: etcd's default
// backend commit interval, the buffering Intel considered in 2015.
const DefaultSyncInterval = 100 * time.Millisecond

// The flags AddFlags binds.
const (
	flagSegmentSize  = "async-segment-size"
	flagSyncInterval = "async-sync-interval"
)

// Config is the async backend's configuration.
type Config struct {
	// SegmentSize is the preallocated size of a log segment file.
	SegmentSize int64 `yaml:"segment_size" json:"segment_size"`
	// SyncInterval is how often the background goroutine syncs what was
	// acknowledged: what a crash may lose.
	SyncInterval time.Duration `yaml:"sync_interval" json:"sync_interval_ns"`
}

// DefaultConfig returns 64 MiB segments synced every DefaultSyncInterval.
func DefaultConfig() Config {
	return Config{SegmentSize: segment.DefaultSegmentSize, SyncInterval: DefaultSyncInterval}
}

// Validate names the first bad setting by its flag. It touches nothing.
func (c Config) Validate() error {
	if err := filelog.CheckSegmentSize(flagSegmentSize, c.SegmentSize); err != nil {
		return err
	}
	if c.SyncInterval <= 0 {
		return fmt.Errorf("--%s: %w: %v is not a positive interval", flagSyncInterval, logbackends.ErrBadConfig, c.SyncInterval)
	}
	return nil
}

// AddFlags binds c's settings to flags of fs, with c's values as defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&c.SegmentSize, flagSegmentSize, c.SegmentSize, "preallocated size in bytes of a log segment file of --log-backend "+Name)
	fs.DurationVar(&c.SyncInterval, flagSyncInterval, c.SyncInterval,
		"how often --log-backend "+Name+" syncs what it acknowledged (a crash loses up to this much)")
}

// NewEntry returns the registry entry that opens the backend with cfg. It
// is not durable: see the package doc.
func NewEntry(cfg Config) logbackends.Entry {
	return logbackends.Entry{
		Name:    Name,
		Durable: false,
		Saved:   Saved,
		Open:    func(env logbackends.Env) (logbackends.Backend, error) { return Open(env, cfg) },
	}
}
