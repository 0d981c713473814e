package watch

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes a Hub. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// StreamBuffer is how many event responses a stream may hold for a
	// reader that has not taken them yet. A watcher whose stream is full
	// stops receiving live events and catches up from History later, so a
	// slow reader costs memory up to this bound and never blocks Notify.
	// etcd uses 128.
	StreamBuffer int `yaml:"stream_buffer"`
	// ProgressNotifyInterval is how often a synced watcher created with
	// progress_notify and sent nothing since the last tick gets an empty
	// response carrying the current revision. etcd's default is 10 minutes.
	ProgressNotifyInterval time.Duration `yaml:"progress_notify_interval"`
	// MaxEventsPerResponse bounds one History read, and so one catch-up
	// response, in events. A revision is never split: one with more events
	// than this is read and sent whole.
	MaxEventsPerResponse int `yaml:"max_events_per_response"`
	// MaxResponseBytes is the encoded size above which a response to a
	// watcher created with fragment=true is split into fragments. etcd uses
	// its max request size, 1.5 MiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// IsCompacted tells whether an error from History.Events means the
	// requested revision was compacted. When nil, an error for a start
	// revision at or below History.CompactRev counts as compacted.
	IsCompacted func(error) bool `yaml:"-"`
}

// DefaultConfig returns etcd's values.
func DefaultConfig() Config {
	return Config{
		StreamBuffer:           128,
		ProgressNotifyInterval: 10 * time.Minute,
		MaxEventsPerResponse:   1000,
		MaxResponseBytes:       1536 * 1024,
	}
}

// Validate reports the first field that is out of range. Zero fields are
// valid: they mean the default.
func (c Config) Validate() error {
	var errs []error
	if c.StreamBuffer < 0 {
		errs = append(errs, fmt.Errorf("%w: stream_buffer %d is negative", ErrInvalidConfig, c.StreamBuffer))
	}
	if c.ProgressNotifyInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: progress_notify_interval %v is negative", ErrInvalidConfig, c.ProgressNotifyInterval))
	}
	if c.MaxEventsPerResponse < 0 {
		errs = append(errs, fmt.Errorf("%w: max_events_per_response %d is negative", ErrInvalidConfig, c.MaxEventsPerResponse))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: max_response_bytes %d is negative", ErrInvalidConfig, c.MaxResponseBytes))
	}
	return errors.Join(errs...)
}

// withDefaults replaces zero and out-of-range fields by the defaults, so
// that NewHub always runs with a usable configuration.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = d.StreamBuffer
	}
	if c.ProgressNotifyInterval <= 0 {
		c.ProgressNotifyInterval = d.ProgressNotifyInterval
	}
	if c.MaxEventsPerResponse <= 0 {
		c.MaxEventsPerResponse = d.MaxEventsPerResponse
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = d.MaxResponseBytes
	}
	return c
}
