package fsync

import (
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "fsync"

// Saved is what a nil error from Save means, in one line.
const Saved = "every entry reached stable storage on its own: one fdatasync per entry"

// flagSegmentSize is the flag AddFlags binds Config.SegmentSize to.
const flagSegmentSize = "fsync-segment-size"

// Config is the fsync backend's configuration.
type Config struct {
	// SegmentSize is the preallocated size of a log segment file.
	SegmentSize int64 `yaml:"segment_size" json:"segment_size"`
}

// DefaultConfig returns etcd's WAL segment size.
func DefaultConfig() Config {
	return Config{SegmentSize: segment.DefaultSegmentSize}
}

// Validate names the first bad setting by its flag. It touches nothing.
func (c Config) Validate() error {
	return filelog.CheckSegmentSize(flagSegmentSize, c.SegmentSize)
}

// AddFlags binds c's settings to flags of fs, with c's values as defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&c.SegmentSize, flagSegmentSize, c.SegmentSize, "preallocated size in bytes of a log segment file of --log-backend "+Name)
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
