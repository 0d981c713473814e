package store

import (
	"fmt"
	"math"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends"
)

// A member's first boot is a sequence of durable steps, each safe to
// crash after (power loss included):
//
//  1. the data, member, log and snap directories, their names fsynced;
//  2. the log backend opened (it creates its own files);
//  3. the bootstrap saved in the log: one ConfChangeAddNode per member at
//     term 1, committed, as raft's RawNode.Bootstrap would append them;
//  4. the state machine's database created and its name fsynced;
//  5. identity.json written and its name fsynced.
//
// Only then does the member start raft and talk to anyone, so a data dir
// without identity.json belongs to a member that never sent a message and
// acknowledged nothing: a start that finds one finishes the first boot,
// whatever --initial-cluster-state says. It takes the log as it finds it
// only if the log holds nothing but a prefix of this member's bootstrap;
// anything else is refused. Conversely identity.json with an empty log
// means the log was lost after the member took part, and is refused.
type bootStep string

const (
	bootDirs      bootStep = "dirs"
	bootLog       bootStep = "log"
	bootBootstrap bootStep = "bootstrap"
	bootDatabase  bootStep = "database"
	bootIdentity  bootStep = "identity"
)

// bootstrapEntries are a new cluster's first log entries: a
// ConfChangeAddNode for each member, in the order of peers, at term 1.
func bootstrapEntries(peers []uint64) ([]*raftpb.Entry, error) {
	ents := make([]*raftpb.Entry, len(peers))
	for i, id := range peers {
		data, err := proto.Marshal(&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(id)})
		if err != nil {
			return nil, fmt.Errorf("bootstrap: encode member %x: %w", id, err)
		}
		ents[i] = &raftpb.Entry{Type: raftpb.EntryConfChange.Enum(), Term: new(uint64(1)), Index: new(uint64(i + 1)), Data: data}
	}
	return ents, nil
}

// bootstrapLog saves a new cluster's first entries and a HardState that
// commits them, durably, unless the log holds them already. The log must
// be empty or hold what an unfinished first boot of this member saved: a
// prefix of the same entries at term 1, no vote, no snapshot. Raft then
// starts on it as on any restart, applying the membership from the
// committed entries.
func bootstrapLog(b logbackends.Backend, peers []uint64, dir string) error {
	ents, err := bootstrapEntries(peers)
	if err != nil {
		return err
	}
	have, err := bootstrapPrefix(b, ents)
	if err != nil {
		return fmt.Errorf("%w: %s has no identity.json, so its member never finished its first boot, but its raft log holds more than that boot saves: %w", ErrMemberMismatch, dir, err)
	}
	hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(0)), Commit: new(uint64(len(ents)))}
	if err := b.Save(hs, ents[have:], nil, true); err != nil {
		return fmt.Errorf("bootstrap raft log: %w", err)
	}
	return nil
}

// bootstrapPrefix returns how many of ents the log holds already, or why
// the log holds something else.
func bootstrapPrefix(b logbackends.Backend, ents []*raftpb.Entry) (int, error) {
	hs, _, err := b.InitialState()
	if err != nil {
		return 0, fmt.Errorf("read initial state: %w", err)
	}
	snap, err := b.Snapshot()
	if err != nil {
		return 0, fmt.Errorf("read snapshot: %w", err)
	}
	if !raft.IsEmptySnap(snap) {
		return 0, fmt.Errorf("a snapshot at index %d", snap.GetMetadata().GetIndex())
	}
	if hs.GetTerm() > 1 || hs.GetVote() != 0 {
		return 0, fmt.Errorf("term %d and vote %x", hs.GetTerm(), hs.GetVote())
	}
	last, err := b.LastIndex()
	if err != nil {
		return 0, fmt.Errorf("read last index: %w", err)
	}
	if last > uint64(len(ents)) {
		return 0, fmt.Errorf("entries up to index %d, the bootstrap has %d", last, len(ents))
	}
	if last == 0 {
		return 0, nil
	}
	have, err := b.Entries(1, last+1, math.MaxUint64)
	if err != nil {
		return 0, fmt.Errorf("read entries: %w", err)
	}
	for i, e := range have {
		if !sameBootstrapEntry(e, ents[i]) {
			return 0, fmt.Errorf("entry %d is not the bootstrap's", e.GetIndex())
		}
	}
	return len(have), nil
}

// sameBootstrapEntry compares a saved entry with the bootstrap's, by what
// it means rather than by its encoding.
func sameBootstrapEntry(got, want *raftpb.Entry) bool {
	if got.GetIndex() != want.GetIndex() || got.GetTerm() != want.GetTerm() || got.GetType() != want.GetType() {
		return false
	}
	var g, w raftpb.ConfChange
	if unmarshal(got.GetData(), &g) != nil || unmarshal(want.GetData(), &w) != nil {
		return false
	}
	return proto.Equal(&g, &w)
}
