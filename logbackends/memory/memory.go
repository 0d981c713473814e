package memory

import (
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// Name is the backend's registered name.
const Name = "memory"

// Saved is what a nil error from Save means, in one line.
const Saved = "in this process's memory only: nothing survives a restart"

// NewEntry returns the registry entry of the backend. It has no settings,
// is not durable, and keeps nothing on disk to destroy.
func NewEntry() logbackends.Entry {
	return logbackends.Entry{Name: Name, Durable: false, Saved: Saved, Open: Open}
}

// Backend keeps the log in memory.
type Backend struct {
	m *logbackends.Mirror
	// Storage is the mirror's read side, which serves raft.Storage.
	raft.Storage
	closed  atomic.Bool
	saves   atomic.Uint64
	entries atomic.Uint64
}

var _ logbackends.Backend = (*Backend)(nil)

// Open returns an empty in-memory log; env is not used.
func Open(logbackends.Env) (logbackends.Backend, error) {
	m := logbackends.NewMirror()
	return &Backend{m: m, Storage: m}, nil
}

// Save implements logbackends.Backend.
func (b *Backend) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, _ bool) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.saves.Add(1)
	if err := b.m.CheckSave(ents, snap); err != nil {
		return err
	}
	if err := b.m.ApplySave(hs, ents, snap); err != nil {
		return err
	}
	b.entries.Add(uint64(len(ents)))
	return nil
}

// CreateSnapshot implements logbackends.Backend.
func (b *Backend) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	if b.closed.Load() {
		return nil, logbackends.ErrClosed
	}
	if _, err := b.m.CheckSnapshot(i); err != nil {
		return nil, err
	}
	return b.m.ApplySnapshot(i, cs, data)
}

// Compact implements logbackends.Backend.
func (b *Backend) Compact(i uint64) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	if _, err := b.m.CheckCompact(i); err != nil {
		return err
	}
	return b.m.ApplyCompact(i)
}

// Close implements logbackends.Backend.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return logbackends.ErrClosed
	}
	return nil
}

// Stats implements logbackends.Backend.
func (b *Backend) Stats() logbackends.Stats {
	return logbackends.Stats{Backend: Name, Saves: b.saves.Load(), EntriesSaved: b.entries.Load()}
}
