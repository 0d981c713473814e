package mvcc

import (
	"bytes"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func alarmReq(action pb.AlarmRequest_AlarmAction, member uint64, a pb.AlarmType) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{Alarm: &pb.AlarmRequest{Action: action, MemberID: member, Alarm: a}}
}

// TestCorruptAlarm raises a CORRUPT alarm and checks that it refuses every
// write but not reads, outlives a restart and a snapshot, and that
// clearing it lets writes through again.
func TestCorruptAlarm(t *testing.T) {
	h := newHarness(t, nil)
	h.put("a", "1")
	h.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 5, TTL: 60}})
	resp := h.must(alarmReq(pb.AlarmRequest_ACTIVATE, 7, pb.AlarmType_CORRUPT)).(*pb.AlarmResponse)
	if len(resp.Alarms) != 1 || resp.Alarms[0].MemberID != 7 || resp.Alarms[0].Alarm != pb.AlarmType_CORRUPT {
		t.Fatalf("activate answered %v", resp.Alarms)
	}
	refused := func(t *testing.T, h *harness) {
		t.Helper()
		rev := h.s.Rev()
		writes := []struct {
			name string
			req  *pb.InternalRaftRequest
		}{
			{name: "put", req: putReq("b", "2")},
			{name: "delete", req: delReq("a", "")},
			{name: "txn", req: txnReq(&pb.TxnRequest{Success: []*pb.RequestOp{opGet("a", "")}})},
			{name: "compaction", req: &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev}}},
			{name: "lease grant", req: &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 6, TTL: 60}}},
			{name: "lease revoke", req: &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 5}}},
		}
		for _, w := range writes {
			_, err := h.apply(w.req)
			if !errorsIs(err, ErrCorruptAlarm) {
				t.Errorf("%s under a CORRUPT alarm: %v, want ErrCorruptAlarm", w.name, err)
			}
		}
		if h.s.Rev() != rev || len(h.s.Leases()) != 1 {
			t.Fatalf("refused writes changed the store: revision %d (was %d), %d leases", h.s.Rev(), rev, len(h.s.Leases()))
		}
		if got := h.rng(&pb.RangeRequest{Key: []byte("a")}); len(got.Kvs) != 1 {
			t.Fatalf("read under a CORRUPT alarm: %v", got.Kvs)
		}
	}
	refused(t, h)

	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	if got := h.s.Alarms(); len(got) != 1 || got[0].MemberID != 7 {
		t.Fatalf("alarms after a restart: %v", got)
	}
	refused(t, h)

	var snap bytes.Buffer
	if _, err := h.s.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	other := newHarness(t, nil)
	if err := other.s.Restore(&snap, h.s.ConsistentIndex()); err != nil {
		t.Fatal(err)
	}
	other.idx = other.s.ConsistentIndex()
	refused(t, other)

	got := h.must(alarmReq(pb.AlarmRequest_GET, 0, pb.AlarmType_NONE)).(*pb.AlarmResponse)
	if len(got.Alarms) != 1 {
		t.Fatalf("GET through raft: %v", got.Alarms)
	}
	h.must(alarmReq(pb.AlarmRequest_DEACTIVATE, 7, pb.AlarmType_CORRUPT))
	if len(h.s.Alarms()) != 0 {
		t.Fatalf("alarms after deactivation: %v", h.s.Alarms())
	}
	h.put("b", "2")
	_, err := h.apply(alarmReq(pb.AlarmRequest_ACTIVATE, 7, pb.AlarmType_NONE))
	wantErr(t, err, ErrUnsupported)
}
