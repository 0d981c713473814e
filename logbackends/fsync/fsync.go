package fsync

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "fsync"

// Open opens the log in opts.Dir, replaying it, or creates an empty one.
// Options.GroupCommitWindow and SyncInterval do not apply and are ignored.
func Open(opts logbackends.Options) (logbackends.Backend, error) {
	return filelog.Open(Name, opts, write)
}

// write is the per-entry policy: snapshot, each entry, then the HardState,
// each handed to the kernel and synced before the next is written.
func write(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if !raft.IsEmptySnap(snap) {
		if err := l.AppendSnapshot(snap, true); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := l.Sync(); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	for k, e := range ents {
		// A one-entry subslice: no allocation, and the entry's record is
		// the only thing in the buffer Sync writes.
		if err := l.AppendEntries(ents[k : k+1]); err != nil {
			return fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
		if err := l.Sync(); err != nil {
			return fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
	}
	if raft.IsEmptyHardState(hs) {
		return nil
	}
	if err := l.AppendHardState(hs); err != nil {
		return fmt.Errorf("hard state: %w", err)
	}
	if mustSync {
		return l.Sync()
	}
	return l.Flush()
}
