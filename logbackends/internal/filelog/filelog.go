package filelog

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/segment"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Writer writes a Save that the mirror has already accepted (snap, then
// ents, then hs; any may be empty) into l and makes it as durable as the
// backend promises before returning. It runs with the core's mutex held.
type Writer func(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error

// AppendReady buffers a whole Save in log order (an installed snapshot,
// the entries, the HardState) without writing or syncing it, and reports
// whether a snapshot was installed, which every policy must sync. It is the
// part the Ready-at-a-time policies (batched, async) share.
func AppendReady(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) (installed bool, err error) {
	installed = !raft.IsEmptySnap(snap)
	if installed {
		if err := l.AppendSnapshot(snap, true); err != nil {
			return installed, fmt.Errorf("snapshot: %w", err)
		}
	}
	if err := l.AppendEntries(ents); err != nil {
		return installed, fmt.Errorf("entries: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		if err := l.AppendHardState(hs); err != nil {
			return installed, fmt.Errorf("hard state: %w", err)
		}
	}
	return installed, nil
}

// emulator is the optional ability of a file system decorator (such as
// diskprofile's) to say what it emulates; Stats reports it so a result
// taken on an emulated disk is marked as such.
type emulator interface {
	Emulated() []string
}

// Emulated is what fsys says it emulates (a disk profile), nil for a file
// system that emulates nothing.
func Emulated(fsys vfs.FS) []string {
	if e, ok := fsys.(emulator); ok {
		return e.Emulated()
	}
	return nil
}

// Backend is a segment log with a raft.Storage mirror and a durability
// policy. It implements logbackends.Backend.
type Backend struct {
	name  string
	write Writer

	mu  sync.Mutex // serialises the log's writers (Save, CreateSnapshot, Compact, SyncNow, Close)
	log *segment.Log
	m   *logbackends.Mirror
	// Storage is the mirror's read side, which serves raft.Storage;
	// embedding it promotes only the reads, not the mirror's writes.
	raft.Storage
	closed atomic.Bool

	saves    atomic.Uint64
	entries  atomic.Uint64
	hist     latency.Histogram
	emulated []string
	// syncedBytes is log.BytesWritten as of the last sync SyncNow made, so
	// an idle interval costs no fdatasync.
	syncedBytes uint64
	// cut is the torn tail the log's recovery cut on open, nil if none.
	cut *segment.Cut

	// Group commit (see group.go), all guarded by mu; unused by a backend
	// opened with Open. Every StartSave that needs a sync takes the next
	// ticket; synced is the highest ticket a completed sync covered.
	window   time.Duration
	waitSync sync.Cond // L is &mu: Saves waiting for a sync led by another
	appended uint64
	synced   uint64
	leading  bool  // a Save is leading a sync (waiting out the window or syncing)
	syncErr  error // the failed sync that stopped the log
}

var _ logbackends.Backend = (*Backend)(nil)

// Open opens the log in env.Dir, replaying it, or creates an empty one
// whose segments are segmentSize bytes. name prefixes errors and is the
// Stats backend name.
func Open(name string, env logbackends.Env, segmentSize int64, write Writer) (*Backend, error) {
	b := &Backend{name: name, write: write, emulated: Emulated(env.FS)}
	log, st, err := segment.Open(segment.Options{
		FS: env.FS, Dir: env.Dir, SegmentSize: segmentSize,
		OnSync: b.hist.Record, Logger: env.Log(), ZeroAhead: segment.DefaultZeroAhead,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", name, env.Dir, err)
	}
	m, err := logbackends.RebuildMirror(st.HardState, st.Snapshot, st.CompactIndex, st.CompactTerm, st.Entries)
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: rebuild %s: %w", name, env.Dir, err)
	}
	b.log, b.m, b.Storage = log, m, m
	b.syncedBytes = log.BytesWritten()
	b.cut = st.Cut
	return b, nil
}

// Save implements logbackends.Backend: the mirror checks the Save, the
// Writer makes it durable as promised, then the mirror serves it.
func (b *Backend) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.saves.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.m.CheckSave(ents, snap); err != nil {
		return err
	}
	if err := b.write(b.log, hs, ents, snap, mustSync); err != nil {
		return fmt.Errorf("%s: save: %w", b.name, err)
	}
	if err := b.m.ApplySave(hs, ents, snap); err != nil {
		return fmt.Errorf("%s: save: %w", b.name, err)
	}
	b.entries.Add(uint64(len(ents)))
	return nil
}

// CreateSnapshot implements logbackends.Backend. The snapshot, data
// included, is durable when it returns, whatever the Writer's policy.
func (b *Backend) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	if b.closed.Load() {
		return nil, logbackends.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	term, err := b.m.CheckSnapshot(i)
	if err != nil {
		return nil, err
	}
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		Index: new(i), Term: new(term), ConfState: raftpb.EnsureConfState(cs)}}
	if err := b.log.AppendSnapshot(snap, false); err != nil {
		return nil, fmt.Errorf("%s: create snapshot at %d: %w", b.name, i, err)
	}
	if err := b.syncLocked(); err != nil {
		return nil, fmt.Errorf("%s: create snapshot at %d: %w", b.name, i, err)
	}
	return b.m.ApplySnapshot(i, cs, data)
}

// Compact implements logbackends.Backend: the compaction point is made
// durable, then segments holding only compacted entries are deleted. The
// sync comes first because a deleted segment whose compaction record was
// lost would leave a hole at the start of the log.
func (b *Backend) Compact(i uint64) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	term, err := b.m.CheckCompact(i)
	if err != nil {
		return err
	}
	if err := b.log.AppendCompact(i, term); err != nil {
		return fmt.Errorf("%s: compact to %d: %w", b.name, i, err)
	}
	if err := b.syncLocked(); err != nil {
		return fmt.Errorf("%s: compact to %d: %w", b.name, i, err)
	}
	if err := b.m.ApplyCompact(i); err != nil {
		return err
	}
	if err := b.log.RemoveBefore(i); err != nil {
		return fmt.Errorf("%s: compact to %d: %w", b.name, i, err)
	}
	return nil
}

// SyncNow makes everything written so far durable with one fdatasync, or
// does nothing when nothing was written since the last one it made. It may
// be called from a goroutine other than the Ready loop's; it waits for a
// Save in progress. After Close it returns logbackends.ErrClosed.
func (b *Backend) SyncNow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	if b.log.BytesWritten() == b.syncedBytes {
		return nil
	}
	if err := b.syncLocked(); err != nil {
		return fmt.Errorf("%s: sync: %w", b.name, err)
	}
	return nil
}

// syncLocked syncs the log and remembers how much that covered.
func (b *Backend) syncLocked() error {
	if err := b.log.Sync(); err != nil {
		return err
	}
	b.syncedBytes = b.log.BytesWritten()
	b.synced = b.appended
	return nil
}

// Close implements logbackends.Backend. It syncs what was written without a
// sync before closing.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return logbackends.ErrClosed
	}
	if err := b.log.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", b.name, err)
	}
	return nil
}

// Stats implements logbackends.Backend. It reads atomics only. Syncs is
// taken from the latency histogram's count (every successful sync records
// one sample), so the two agree even while a background sync completes.
func (b *Backend) Stats() logbackends.Stats {
	lat := b.hist.Snapshot()
	return logbackends.Stats{
		Backend:      b.name,
		Saves:        b.saves.Load(),
		EntriesSaved: b.entries.Load(),
		BytesWritten: b.log.BytesWritten(),
		Syncs:        lat.Count,
		SyncLatency:  lat,
		Emulated:     append([]string(nil), b.emulated...),
		Counters:     CutCounters(b.cut),
	}
}

// CutCounters reports the torn tail cut on open, nil for none
// (logbackends.CounterTornTails and CounterTornBytes).
func CutCounters(cut *segment.Cut) []logbackends.Counter {
	var cuts, bytes uint64
	if cut != nil {
		cuts, bytes = 1, uint64(cut.Bytes)
	}
	return []logbackends.Counter{
		{Name: logbackends.CounterTornTails, Unit: "cuts", Help: "torn tails of unsynced writes that recovery cut from the segment log on open", Value: cuts},
		{Name: logbackends.CounterTornBytes, Unit: "bytes", Help: "written bytes the segment log's recovery discarded with torn tails", Value: bytes},
	}
}

// CheckSegmentSize is the rule every segment-log backend's Config.Validate
// applies to its SegmentSize; flag is the setting's flag name, without
// dashes, for the error.
func CheckSegmentSize(flag string, n int64) error {
	if n <= 0 {
		return fmt.Errorf("--%s: %w: %d is not a positive number of bytes", flag, logbackends.ErrBadConfig, n)
	}
	return nil
}
