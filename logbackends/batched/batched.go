package batched

import (
	"errors"
	"fmt"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "batched"

// ErrGroupCommitUnsupported is returned by Open for a non-zero
// Options.GroupCommitWindow.
var ErrGroupCommitUnsupported = errors.New("batched: group-commit window not supported")

// Backend is a segment log synced once per Save.
type Backend struct {
	log    *segment.Log
	m      *logbackends.Mirror
	closed atomic.Bool

	saves   atomic.Uint64
	entries atomic.Uint64
	hist    logbackends.SyncHistogram
}

var _ logbackends.Backend = (*Backend)(nil)

// Open opens the log in opts.Dir, replaying it, or creates an empty one.
func Open(opts logbackends.Options) (logbackends.Backend, error) {
	if opts.GroupCommitWindow != 0 {
		return nil, fmt.Errorf("%w (GroupCommitWindow %v)", ErrGroupCommitUnsupported, opts.GroupCommitWindow)
	}
	b := &Backend{}
	log, st, err := segment.Open(segment.Options{
		FS: opts.FS, Dir: opts.Dir, SegmentSize: opts.SegmentSize,
		OnSync: b.hist.Record,
	})
	if err != nil {
		return nil, fmt.Errorf("batched: open %s: %w", opts.Dir, err)
	}
	m, err := logbackends.RebuildMirror(st.HardState, st.Snapshot, st.CompactIndex, st.CompactTerm, st.Entries)
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("batched: rebuild %s: %w", opts.Dir, err)
	}
	b.log, b.m = log, m
	return b, nil
}

// InitialState implements raft.Storage.
func (b *Backend) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	return b.m.InitialState()
}

// Entries implements raft.Storage.
func (b *Backend) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	return b.m.Entries(lo, hi, maxSize)
}

// Term implements raft.Storage.
func (b *Backend) Term(i uint64) (uint64, error) { return b.m.Term(i) }

// LastIndex implements raft.Storage.
func (b *Backend) LastIndex() (uint64, error) { return b.m.LastIndex() }

// FirstIndex implements raft.Storage.
func (b *Backend) FirstIndex() (uint64, error) { return b.m.FirstIndex() }

// Snapshot implements raft.Storage.
func (b *Backend) Snapshot() (*raftpb.Snapshot, error) { return b.m.Snapshot() }

// Save implements logbackends.Backend: one write, and one fdatasync when
// mustSync or a snapshot is installed.
func (b *Backend) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.saves.Add(1)
	if err := b.m.CheckSave(ents, snap); err != nil {
		return err
	}
	install := !raft.IsEmptySnap(snap)
	if install {
		if err := b.log.AppendSnapshot(snap, true); err != nil {
			return fmt.Errorf("batched: save snapshot: %w", err)
		}
	}
	if err := b.log.AppendEntries(ents); err != nil {
		return fmt.Errorf("batched: save entries: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		if err := b.log.AppendHardState(hs); err != nil {
			return fmt.Errorf("batched: save hard state: %w", err)
		}
	}
	var err error
	if mustSync || install {
		err = b.log.Sync()
	} else {
		err = b.log.Flush()
	}
	if err != nil {
		return fmt.Errorf("batched: save: %w", err)
	}
	if err := b.m.ApplySave(hs, ents, snap); err != nil {
		return fmt.Errorf("batched: save: %w", err)
	}
	b.entries.Add(uint64(len(ents)))
	return nil
}

// CreateSnapshot implements logbackends.Backend. The snapshot, data
// included, is durable when it returns.
func (b *Backend) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	if b.closed.Load() {
		return nil, logbackends.ErrClosed
	}
	term, err := b.m.CheckSnapshot(i)
	if err != nil {
		return nil, err
	}
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		Index: new(i), Term: new(term), ConfState: raftpb.EnsureConfState(cs)}}
	if err := b.log.AppendSnapshot(snap, false); err != nil {
		return nil, fmt.Errorf("batched: create snapshot at %d: %w", i, err)
	}
	if err := b.log.Sync(); err != nil {
		return nil, fmt.Errorf("batched: create snapshot at %d: %w", i, err)
	}
	return b.m.ApplySnapshot(i, cs, data)
}

// Compact implements logbackends.Backend: the compaction point is made
// durable, then segments holding only compacted entries are deleted.
func (b *Backend) Compact(i uint64) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	term, err := b.m.CheckCompact(i)
	if err != nil {
		return err
	}
	if err := b.log.AppendCompact(i, term); err != nil {
		return fmt.Errorf("batched: compact to %d: %w", i, err)
	}
	if err := b.log.Sync(); err != nil {
		return fmt.Errorf("batched: compact to %d: %w", i, err)
	}
	if err := b.m.ApplyCompact(i); err != nil {
		return err
	}
	if err := b.log.RemoveBefore(i); err != nil {
		return fmt.Errorf("batched: compact to %d: %w", i, err)
	}
	return nil
}

// Close implements logbackends.Backend. It syncs what was written without a
// sync (Saves with mustSync false) before closing.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return logbackends.ErrClosed
	}
	if err := b.log.Close(); err != nil {
		return fmt.Errorf("batched: close: %w", err)
	}
	return nil
}

// Stats implements logbackends.Backend. It reads atomics only.
func (b *Backend) Stats() logbackends.Stats {
	return logbackends.Stats{
		Backend:      Name,
		Saves:        b.saves.Load(),
		EntriesSaved: b.entries.Load(),
		BytesWritten: b.log.BytesWritten(),
		Syncs:        b.log.Syncs(),
		SyncLatency:  b.hist.Snapshot(),
	}
}
