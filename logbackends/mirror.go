package logbackends

import (
	"fmt"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Mirror is the in-memory copy of a log that a backend serves raft's reads
// from: a raft.MemoryStorage, with its writes split into a Check step that
// turns MemoryStorage's panics and silent no-ops into errors before the
// backend touches its medium, and an Apply step run once the write is as
// durable as promised.
//
// The read methods (raft.Storage) are safe to call concurrently with
// everything; the Check and Apply methods belong to the single writer.
type Mirror struct {
	ms *raft.MemoryStorage

	// MemoryStorage.InitialState reads its fields without its lock, so the
	// HardState and ConfState are kept here under one of our own.
	mu sync.Mutex
	hs *raftpb.HardState
	cs *raftpb.ConfState

	snapIndex uint64 // writer-owned
}

var _ raft.Storage = (*Mirror)(nil)

// NewMirror returns an empty log.
func NewMirror() *Mirror {
	return &Mirror{ms: raft.NewMemoryStorage(), cs: &raftpb.ConfState{}}
}

// RebuildMirror builds the mirror of a replayed log: the entries after
// compactIndex (whose entry had compactTerm), the latest snapshot (nil for
// none; its index must be at or above compactIndex and at most the last
// entry's) and HardState (nil for none).
func RebuildMirror(hs *raftpb.HardState, snap *raftpb.Snapshot, compactIndex, compactTerm uint64, ents []*raftpb.Entry) (*Mirror, error) {
	m := NewMirror()
	snapIdx := snap.GetMetadata().GetIndex()
	if snap != nil && snapIdx < compactIndex {
		return nil, fmt.Errorf("%w: snapshot at %d is below the compaction point %d", ErrCorrupt, snapIdx, compactIndex)
	}
	base := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: new(compactIndex), Term: new(compactTerm), ConfState: snap.GetMetadata().GetConfState()}}
	if snap != nil && snapIdx == compactIndex {
		base = snap
	}
	if err := m.ms.ApplySnapshot(base); err != nil {
		return nil, err
	}
	if err := m.ms.Append(ents); err != nil {
		return nil, err
	}
	if snap != nil && snapIdx > compactIndex {
		if last, _ := m.ms.LastIndex(); snapIdx > last {
			return nil, fmt.Errorf("%w: snapshot at %d is beyond the last entry %d", ErrCorrupt, snapIdx, last)
		}
		if _, err := m.ms.CreateSnapshot(snapIdx, snap.GetMetadata().GetConfState(), snap.GetData()); err != nil {
			return nil, err
		}
	}
	m.snapIndex = snapIdx
	if hs != nil {
		m.hs = hs
		if err := m.ms.SetHardState(hs); err != nil {
			return nil, err
		}
	}
	m.cs = raftpb.EnsureConfState(snap.GetMetadata().GetConfState())
	return m, nil
}

// InitialState implements raft.Storage.
func (m *Mirror) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hs, m.cs, nil
}

// Entries implements raft.Storage.
func (m *Mirror) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	return m.ms.Entries(lo, hi, maxSize)
}

// Term implements raft.Storage.
func (m *Mirror) Term(i uint64) (uint64, error) { return m.ms.Term(i) }

// LastIndex implements raft.Storage.
func (m *Mirror) LastIndex() (uint64, error) { return m.ms.LastIndex() }

// FirstIndex implements raft.Storage.
func (m *Mirror) FirstIndex() (uint64, error) { return m.ms.FirstIndex() }

// Snapshot implements raft.Storage.
func (m *Mirror) Snapshot() (*raftpb.Snapshot, error) { return m.ms.Snapshot() }

// SnapshotIndex is the index of the latest snapshot (0 for none).
func (m *Mirror) SnapshotIndex() uint64 { return m.snapIndex }

// CheckSave reports whether Save(…, ents, snap) can be applied: a snapshot
// must be newer than the current one (raft.ErrSnapOutOfDate otherwise) and
// the entries must continue the log (ErrLogGap otherwise).
func (m *Mirror) CheckSave(ents []*raftpb.Entry, snap *raftpb.Snapshot) error {
	last, _ := m.ms.LastIndex()
	if !raft.IsEmptySnap(snap) {
		idx := snap.GetMetadata().GetIndex()
		if m.snapIndex != 0 && m.snapIndex >= idx {
			return fmt.Errorf("save snapshot at %d, have %d: %w", idx, m.snapIndex, raft.ErrSnapOutOfDate)
		}
		last = idx
	}
	for k, e := range ents {
		want := ents[0].GetIndex() + uint64(k)
		if e.GetIndex() != want {
			return fmt.Errorf("save: entry %d has index %d, want %d: %w", k, e.GetIndex(), want, ErrLogGap)
		}
	}
	if len(ents) > 0 && ents[0].GetIndex() > last+1 {
		return fmt.Errorf("save: first entry %d after last index %d: %w", ents[0].GetIndex(), last, ErrLogGap)
	}
	return nil
}

// ApplySave applies a checked Save.
func (m *Mirror) ApplySave(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) error {
	if !raft.IsEmptySnap(snap) {
		if err := m.ms.ApplySnapshot(snap); err != nil {
			return err
		}
		m.snapIndex = snap.GetMetadata().GetIndex()
		m.mu.Lock()
		m.cs = raftpb.EnsureConfState(proto.Clone(snap.GetMetadata().GetConfState()).(*raftpb.ConfState))
		m.mu.Unlock()
	}
	if err := m.ms.Append(ents); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		hs = proto.Clone(hs).(*raftpb.HardState)
		if err := m.ms.SetHardState(hs); err != nil {
			return err
		}
		m.mu.Lock()
		m.hs = hs
		m.mu.Unlock()
	}
	return nil
}

// CheckSnapshot reports whether CreateSnapshot(i) can be applied and
// returns the term of entry i.
func (m *Mirror) CheckSnapshot(i uint64) (uint64, error) {
	if i <= m.snapIndex {
		return 0, fmt.Errorf("create snapshot at %d, have %d: %w", i, m.snapIndex, raft.ErrSnapOutOfDate)
	}
	if last, _ := m.ms.LastIndex(); i > last {
		return 0, fmt.Errorf("create snapshot at %d beyond last index %d: %w", i, last, ErrOutOfBounds)
	}
	return m.ms.Term(i)
}

// ApplySnapshot applies a checked CreateSnapshot.
func (m *Mirror) ApplySnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	s, err := m.ms.CreateSnapshot(i, cs, data)
	if err != nil {
		return nil, err
	}
	m.snapIndex = i
	m.mu.Lock()
	m.cs = raftpb.EnsureConfState(proto.Clone(s.GetMetadata().GetConfState()).(*raftpb.ConfState))
	m.mu.Unlock()
	return s, nil
}

// CheckCompact reports whether Compact(i) can be applied and returns the
// term of entry i: raft.ErrCompacted at or below the current start, as
// MemoryStorage does, and ErrOutOfBounds above the last snapshot.
func (m *Mirror) CheckCompact(i uint64) (uint64, error) {
	first, _ := m.ms.FirstIndex()
	if i < first {
		return 0, fmt.Errorf("compact to %d, log starts at %d: %w", i, first, raft.ErrCompacted)
	}
	if i > m.snapIndex {
		return 0, fmt.Errorf("compact to %d beyond the snapshot at %d: %w", i, m.snapIndex, ErrOutOfBounds)
	}
	return m.ms.Term(i)
}

// ApplyCompact applies a checked Compact.
func (m *Mirror) ApplyCompact(i uint64) error { return m.ms.Compact(i) }
