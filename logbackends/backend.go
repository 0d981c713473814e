package logbackends

import (
	"log/slog"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends/vfs"
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
// else, and must not block on an fsync in progress. The one exception is a
// backend that also implements ConcurrentSaver: its Saves (and StartSaves)
// may overlap one another, never CreateSnapshot, Compact or Close.
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

// ConcurrentSaver is the optional ability of a backend to take Saves from
// several goroutines at once and cover them with shared syncs (group
// commit): batched opened with a GroupCommitWindow has it. A caller finds
// it with a type assertion on the Backend.
//
// What overlapping callers may pass: raft's indexes are one sequence, so
// each Save's entries must continue the log as it stands when the Save
// takes the backend's writer lock (first index = LastIndex()+1), and while
// another Save waits for its sync no Save may overwrite entries or install
// a snapshot: that would rewrite what the other caller is about to be told
// is durable. Such a Save fails with ErrConcurrentSave and changes nothing;
// a gap fails with ErrLogGap as always. A Save that finds no other Save
// waiting may do anything a single writer's Save may.
//
// Overlapping Saves take the lock in no particular order, so callers that
// draw indexes from one counter cannot simply call Save: they draw the
// indexes and call StartSave inside one critical section of their own, then
// leave it and call the returned wait. StartSave does not wait for a sync,
// so that critical section costs an append, not an fdatasync.
type ConcurrentSaver interface {
	// StartSave is the first half of Save: it checks hs, ents and snap as
	// Save does and appends them behind those of earlier StartSaves, then
	// returns without waiting for a sync. wait returns once a sync covers
	// them, with the error that sync met; Save is StartSave then wait.
	// Entries are readable through raft.Storage from the moment StartSave
	// returns (as raft's unstable entries are), acknowledged only by wait.
	// wait must be called exactly once.
	StartSave(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) (wait func() error, err error)
}

// Stats describes the work a backend has done since it was opened.
type Stats struct {
	Backend      string // the registered name, e.g. "batched"
	Saves        uint64 // calls to Save
	EntriesSaved uint64 // entries passed to Save
	BytesWritten uint64 // bytes written to the durable medium
	Syncs        uint64 // fdatasync calls (or flush+fence rounds)
	// SyncLatency holds the latency of each sync, in nanoseconds.
	SyncLatency latency.Snapshot
	// Emulated lists what in this backend is emulated rather than real
	// hardware behaviour (e.g. "disk-profile:ssd-2015"); empty when nothing is.
	Emulated []string

	// Counters are the backend's own counters beyond the ones above (the
	// adr backend's drainer syncs, say), in an order the backend keeps
	// fixed; nil for a backend with none.
	Counters []Counter
	// Facts say how the backend runs where that is not a number (the adr
	// backend's cache-line flush instruction, say); nil for none.
	Facts []Fact
}

// Counter is one of a backend's own counters: cumulative since open,
// named in snake_case and unique within the backend.
type Counter struct {
	Name  string // e.g. "disk_syncs"
	Unit  string // what Value counts, plural: "syncs", "bytes", "waits"
	Help  string // one line, for /metrics and reports
	Value uint64
}

// Fact is a named property of an open backend, e.g.
// {FactFlushInstruction, "clwb"}.
type Fact struct {
	Name  string
	Value string
}

// FactFlushInstruction names the Fact under which a backend that keeps its
// log in persistent memory reports the cache-line flush it uses ("clwb",
// "clflushopt", "clflush", "msync", "none", "portable", "sim").
const FactFlushInstruction = "flush_instruction"

// The Counters every backend that keeps a segment log (package segment)
// reports, the adr backend's disk log included: what its recovery cut on
// open. A torn tail holds writes a crash left unsynced, never
// acknowledged ones (see package segment); it is counted so that a cut is
// never silent.
const (
	// CounterTornTails counts the torn tails cut when the log was opened
	// (0 or 1 per open).
	CounterTornTails = "torn_tails_cut"
	// CounterTornBytes counts the written bytes those cuts discarded.
	CounterTornBytes = "torn_bytes_cut"
)

// Counter returns the value of the counter called name, and whether the
// backend reports one.
func (s Stats) Counter(name string) (uint64, bool) {
	for _, c := range s.Counters {
		if c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}

// Fact returns the fact called name, "" when the backend reports none.
func (s Stats) Fact(name string) string {
	for _, f := range s.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Env is where one member's backend lives: what differs between members
// opening the same registry entry.
type Env struct {
	// Dir is the directory the backend owns. It is created if missing.
	Dir string
	// FS is the file system file-backed backends write through; nil means
	// the real one (vfs.OS). A disk profile wraps it (diskprofile.Wrap);
	// tests inject a vfs.Mem.
	FS vfs.FS
	// ClusterID and MemberID name the raft member whose log this is; 0
	// when unknown (a backend opened on its own, in a test or a
	// benchmark). A backend that keeps part of its log outside Dir (the
	// adr backend's region) records them there, so that it recognises
	// its own and refuses another member's.
	ClusterID, MemberID uint64
	// Logger receives what the backend has to tell an operator: that what
	// it runs on is emulated, a fallback taken, a loss accepted at open,
	// a Save waiting long. nil discards it.
	Logger *slog.Logger
}

// Log returns env.Logger, or a logger that discards everything when it
// is nil.
func (env Env) Log() *slog.Logger {
	if env.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return env.Logger
}

// Opener opens (creating if needed) the backend kept in env.Dir, with
// whatever configuration it was built with.
type Opener func(env Env) (Backend, error)
