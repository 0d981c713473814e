package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/mvcc"
)

// newTestApplier is an applier on a fresh state machine in dir, not
// started: tests call its methods from their own goroutine.
func newTestApplier(t *testing.T, dir string) *applier {
	t.Helper()
	kv, err := mvcc.Open(mvcc.DefaultConfig(filepath.Join(dir, "db")), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	return newApplier(applierDeps{
		kv:              kv,
		waits:           newWaitList(),
		lessor:          newLessor(1, time.Now),
		members:         newMembers(nil, "t"),
		applied:         &indexWaiter{},
		requestSnapshot: func(uint64) {},
		fatal:           func(err error) { t.Errorf("fatal: %v", err) },
		snapshotCount:   1000,
	}, 0)
}

// TestRestoreSnapshotChecks gives a follower's applier snapshots from a
// leader: the good one is taken; one whose bytes do not match the sha256
// the leader appended, or whose database is behind the snapshot's index,
// is refused and leaves the state machine as it was.
func TestRestoreSnapshotChecks(t *testing.T) {
	leader := newTestApplier(t, t.TempDir())
	for i := uint64(1); i <= 5; i++ {
		if _, err := leader.kv.Apply(i, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Value: []byte{byte('0' + i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := leader.snapshotData()
	if err != nil {
		t.Fatal(err)
	}
	snapAt := func(index uint64, data []byte) *raftpb.Snapshot {
		return &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: new(index), Term: new(uint64(2))}}
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/3] ^= 1
	tests := []struct {
		name string
		snap *raftpb.Snapshot
		want error
	}{
		{name: "a flipped bit", snap: snapAt(5, flipped), want: ErrSnapshotHash},
		{name: "behind its index", snap: snapAt(6, data), want: mvcc.ErrCorrupt},
		{name: "whole", snap: snapAt(5, data)},
	}
	follower := newTestApplier(t, t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := follower.restoreSnapshot(tt.snap)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("restoreSnapshot: %v, want %v", err, tt.want)
			}
			want := uint64(0)
			if tt.want == nil {
				want = 5
			}
			if got := follower.kv.ConsistentIndex(); got != want || follower.appliedIndex != want {
				t.Fatalf("after the restore: consistent index %d, applied %d, want %d", got, follower.appliedIndex, want)
			}
		})
	}
}
