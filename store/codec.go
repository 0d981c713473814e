package store

import (
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func unmarshal(b []byte, m proto.Message) error {
	return proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}

// withSnapshotData returns a copy of a MsgSnap carrying data. raft's
// snapshot metadata comes from the log backend, which keeps no data: the
// state machine's contents are attached only when a follower needs them.
func withSnapshotData(m *raftpb.Message, data []byte) *raftpb.Message {
	sm := proto.Clone(m).(*raftpb.Message)
	if sm.Snapshot == nil {
		sm.Snapshot = &raftpb.Snapshot{}
	}
	sm.Snapshot.Data = data
	return sm
}
