package batched

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "batched"

// Saved is what a nil error from Save means, in one line.
const Saved = "the whole Ready reached stable storage: one fdatasync per Save, or per group of concurrent Saves with a window"

// The flags AddFlags binds.
const (
	flagSegmentSize       = "batched-segment-size"
	flagGroupCommitWindow = "batched-group-commit-window"
)

// Config is the batched backend's configuration.
type Config struct {
	// SegmentSize is the preallocated size of a log segment file.
	SegmentSize int64 `yaml:"segment_size" json:"segment_size"`
	// GroupCommitWindow at zero syncs every Save on its own, as etcd
	// does. Above zero the backend implements
	// logbackends.ConcurrentSaver, and the Save that leads a sync first
	// waits this long for other Saves to join it (see the package doc).
	// It is for callers that save concurrently: the store's Ready loop
	// has one Save in flight at a time, so a window only delays it
	// (docs/decisions/0002-group-commit.md).
	GroupCommitWindow time.Duration `yaml:"group_commit_window" json:"group_commit_window_ns"`
}

// DefaultConfig returns etcd's WAL: 64 MiB segments, no window.
func DefaultConfig() Config {
	return Config{SegmentSize: segment.DefaultSegmentSize}
}

// Validate names the first bad setting by its flag. It touches nothing.
func (c Config) Validate() error {
	if err := filelog.CheckSegmentSize(flagSegmentSize, c.SegmentSize); err != nil {
		return err
	}
	if c.GroupCommitWindow < 0 {
		return fmt.Errorf("--%s: %w: %v is negative", flagGroupCommitWindow, logbackends.ErrBadConfig, c.GroupCommitWindow)
	}
	return nil
}

// AddFlags binds c's settings to flags of fs, with c's values as defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&c.SegmentSize, flagSegmentSize, c.SegmentSize, "preallocated size in bytes of a log segment file of --log-backend "+Name)
	fs.DurationVar(&c.GroupCommitWindow, flagGroupCommitWindow, c.GroupCommitWindow,
		"how long the Save that leads an fdatasync of --log-backend "+Name+" waits for concurrent Saves to share it "+
			"(0: every Save syncs on its own, as etcd does; the store saves one Ready at a time, so there a window only adds its length to every Save)")
}

// NewEntry returns the registry entry that opens the backend with cfg.
func NewEntry(cfg Config) logbackends.Entry {
	return logbackends.Entry{
		Name:    Name,
		Durable: true,
		Saved:   Saved,
		Open:    func(env logbackends.Env) (logbackends.Backend, error) { return Open(env, cfg) },
	}
}
