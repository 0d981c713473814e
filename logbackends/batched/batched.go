package batched

import (
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Name is the backend's registered name.
const Name = "batched"

// Open opens the log in opts.Dir, replaying it, or creates an empty one.
// With opts.GroupCommitWindow above zero the backend it returns also
// implements logbackends.ConcurrentSaver; at zero it does not, and its Saves
// must not overlap.
func Open(opts logbackends.Options) (logbackends.Backend, error) {
	if opts.GroupCommitWindow < 0 {
		return nil, fmt.Errorf("%s: negative GroupCommitWindow %v", Name, opts.GroupCommitWindow)
	}
	if opts.GroupCommitWindow > 0 {
		return filelog.OpenGroup(Name, opts, opts.GroupCommitWindow)
	}
	return filelog.Open(Name, opts, write)
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
