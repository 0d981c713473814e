package fsync

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Open opens the log in env.Dir, replaying it, or creates an empty one.
func Open(env logbackends.Env, cfg Config) (logbackends.Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return filelog.Open(Name, env, cfg.SegmentSize, write)
}

// write is the per-entry policy: snapshot, then each entry handed to the
// kernel and synced before the next is written. The HardState travels in
// the same write as the last entry and is covered by that entry's sync, so
// every entry costs one write and one fdatasync, HardState included; a
// Save with no entries syncs the HardState alone when mustSync.
func write(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if !raft.IsEmptySnap(snap) {
		if err := l.AppendSnapshot(snap, true); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := l.Sync(); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	withHS := !raft.IsEmptyHardState(hs)
	for k, e := range ents {
		// A one-entry subslice: no allocation, and the entry's record is
		// the only thing in the buffer Sync writes (with the HardState
		// after the last one).
		if err := l.AppendEntries(ents[k : k+1]); err != nil {
			return fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
		if k == len(ents)-1 && withHS {
			if err := l.AppendHardState(hs); err != nil {
				return fmt.Errorf("hard state: %w", err)
			}
			withHS = false
		}
		if err := l.Sync(); err != nil {
			return fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
	}
	if !withHS {
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
