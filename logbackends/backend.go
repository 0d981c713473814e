package logbackends

import (
	"time"

	"github.com/adrbench/adrbench/logbackends/vfs"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Backend is one member's raft log storage.
//
// The read side is raft.Storage: raft reads entries, terms, the first and
// last index, the snapshot and the initial state through it. A backend may
// keep a raft.MemoryStorage mirror and rebuild it from its medium on open.
//
// Durability: Save must not return until hs, ents and snap are as durable as
// the backend's doc comment promises (see the table in package doc). A nil
// error from Save is an acknowledgement that the caller may act on: send the
// messages that depend on the write, answer a client.
//
// Concurrency: Save, CreateSnapshot, Compact and Close must not be called
// concurrently with one another; the raft Ready loop is the only writer. The
// raft.Storage methods and Stats may be called concurrently with everything
// else, and must not block on an fsync in progress.
type Backend interface {
	raft.Storage

	// Save appends ents (overwriting any conflicting suffix, as raft
	// requires), records hs when it is not empty, and installs snap when it
	// is not empty, in the order snap, ents, hs. It returns when they are
	// durable as promised. mustSync is raft.MustSync for this Ready: a
	// backend that syncs may skip the sync when it is false.
	Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error

	// CreateSnapshot records a snapshot taken by the state machine at index
	// i (which must be applied and durable in the state machine) with
	// membership cs and opaque data, and makes it what Snapshot returns. It
	// is durable when it returns.
	CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error)

	// Compact discards entries up to and including index i, which must not
	// be above the last snapshot's index. Storage may be released lazily.
	Compact(i uint64) error

	// Close releases the backend. Everything acknowledged by Save stays
	// durable as promised; Close does not make unacknowledged data durable
	// unless the backend says so.
	Close() error

	// Stats returns counters since open. It must be cheap and must not block
	// on a sync in progress.
	Stats() Stats
}

// Stats describes the work a backend has done since it was opened.
type Stats struct {
	Backend      string // the registered name, e.g. "batched"
	Saves        uint64 // calls to Save
	EntriesSaved uint64 // entries passed to Save
	BytesWritten uint64 // bytes written to the durable medium
	Syncs        uint64 // fdatasync calls (or flush+fence rounds)
	// SyncLatency holds the latency of each sync, in nanoseconds.
	SyncLatency LatencySnapshot
	// Emulated lists what in this backend is emulated rather than real
	// hardware behaviour (e.g. "disk-profile:ssd-2015"); empty when nothing is.
	Emulated []string
}

// LatencySnapshot is a copy of a latency histogram: bucket upper bounds in
// nanoseconds and the count of samples at or below each (not cumulative),
// plus the exact sum and count, enough for Prometheus histograms and for
// percentiles.
type LatencySnapshot struct {
	Count    uint64
	SumNanos uint64
	// Buckets are in increasing order of UpperNanos.
	Buckets []Bucket
}

// Bucket is one histogram bucket.
type Bucket struct {
	UpperNanos uint64
	Count      uint64
}

// Options are the settings shared by all backends. A backend ignores the
// ones that do not apply to it.
type Options struct {
	// Dir is the directory the backend owns. It is created if missing.
	Dir string
	// SegmentSize is the preallocated size of a log segment file.
	SegmentSize int64
	// GroupCommitWindow, for batched: how long to gather Saves into one sync.
	GroupCommitWindow time.Duration
	// SyncInterval, for async: how often buffered writes are synced.
	SyncInterval time.Duration
	// FS is the file system file-backed backends write through; nil means
	// the real one (vfs.OS). Tests inject a vfs.Mem.
	FS vfs.FS
}

// DefaultOptions returns the options etcd's own WAL corresponds to.
func DefaultOptions(dir string) Options {
	return Options{
		Dir:          dir,
		SegmentSize:  64 << 20,
		SyncInterval: 100 * time.Millisecond,
	}
}

// Opener opens (creating if needed) the backend kept in opts.Dir.
type Opener func(opts Options) (Backend, error)
