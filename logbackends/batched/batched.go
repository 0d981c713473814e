package batched

import (
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Open opens the log in env.Dir, replaying it, or creates an empty one.
// With cfg.GroupCommitWindow above zero the backend it returns also
// implements logbackends.ConcurrentSaver; at zero it does not, and its Saves
// must not overlap.
func Open(env logbackends.Env, cfg Config) (logbackends.Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.GroupCommitWindow > 0 {
		return filelog.OpenGroup(Name, env, cfg.SegmentSize, cfg.GroupCommitWindow)
	}
	return filelog.Open(Name, env, cfg.SegmentSize, write)
}

// write is the batched policy: the whole Ready in one write, and one
// fdatasync when mustSync or a snapshot is installed.
func write(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	install, err := filelog.AppendReady(l, hs, ents, snap)
	if err != nil {
		return err
	}
	if mustSync || install {
		return l.Sync()
	}
	return l.Flush()
}
