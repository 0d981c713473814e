package mvcc

import (
	"fmt"
	"time"
)

// Config configures a Store.
type Config struct {
	// Path is the bbolt file. It is created if missing.
	Path string `yaml:"path"`
	// BatchInterval bounds how long applied writes wait in the batch
	// transaction before it commits.
	BatchInterval time.Duration `yaml:"batch_interval"`
	// BatchLimit commits the batch after this many writes even if the
	// interval has not elapsed.
	BatchLimit int `yaml:"batch_limit"`
	// QuotaBytes caps the logical size (LogicalSize) of the data; a write
	// that would grow past it fails with ErrNoSpace. 0 means 2 GiB.
	QuotaBytes int64 `yaml:"quota_bytes"`
	// CompactionBatchLimit is how many records a compaction deletes from
	// bbolt per batch; each batch commits on its own. 0 means 1000, etcd's.
	CompactionBatchLimit int `yaml:"compaction_batch_limit"`
	// CompactionPause is the pause between two batches of a compaction's
	// deletions, which lets Apply and the committer have the batch
	// transaction. 0 means 10 ms, etcd's.
	CompactionPause time.Duration `yaml:"compaction_pause"`
	// AfterCompactionBatch, if set, is called by the compactor after each
	// batch of deletions is committed, with no lock held. It is how tests
	// hold a compaction in the middle; nil means no hook.
	AfterCompactionBatch func() `yaml:"-"`
	// BeforeCommit, if set, is called before every commit of the batch;
	// an error fails that commit as a failing disk would, and the store
	// fails for good (ErrBackend). It is how tests make the database
	// fail; nil means no hook.
	BeforeCommit func() error `yaml:"-"`
}

// DefaultQuotaBytes is etcd's default --quota-backend-bytes.
const DefaultQuotaBytes = 2 << 30

// DefaultConfig returns etcd's backend defaults: commit every 100 ms or
// 10,000 writes, 2 GiB quota, compactions deleting 1000 records per batch
// with 10 ms between batches.
func DefaultConfig(path string) Config {
	return Config{
		Path:          path,
		BatchInterval: 100 * time.Millisecond,
		BatchLimit:    10000,
		QuotaBytes:    DefaultQuotaBytes,

		CompactionBatchLimit: 1000,
		CompactionPause:      10 * time.Millisecond,
	}
}

// withDefaults fills zero fields with the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Path)
	if c.BatchInterval == 0 {
		c.BatchInterval = d.BatchInterval
	}
	if c.BatchLimit == 0 {
		c.BatchLimit = d.BatchLimit
	}
	if c.QuotaBytes == 0 {
		c.QuotaBytes = d.QuotaBytes
	}
	if c.CompactionBatchLimit == 0 {
		c.CompactionBatchLimit = d.CompactionBatchLimit
	}
	if c.CompactionPause == 0 {
		c.CompactionPause = d.CompactionPause
	}
	if c.AfterCompactionBatch == nil {
		c.AfterCompactionBatch = func() {}
	}
	if c.BeforeCommit == nil {
		c.BeforeCommit = func() error { return nil }
	}
	return c
}

// Validate reports the first bad field. Zero durations, limits and quotas
// are valid: Open replaces them with the defaults.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("mvcc config: path is empty")
	case c.BatchInterval < 0:
		return fmt.Errorf("mvcc config: batch_interval %v is negative", c.BatchInterval)
	case c.BatchLimit < 0:
		return fmt.Errorf("mvcc config: batch_limit %d is negative", c.BatchLimit)
	case c.CompactionBatchLimit < 0:
		return fmt.Errorf("mvcc config: compaction_batch_limit %d is negative", c.CompactionBatchLimit)
	case c.CompactionPause < 0:
		return fmt.Errorf("mvcc config: compaction_pause %v is negative", c.CompactionPause)
	case c.QuotaBytes < 0:
		return fmt.Errorf("mvcc config: quota_bytes %d is negative", c.QuotaBytes)
	}
	return nil
}
