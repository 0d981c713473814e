package mvcc

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

func rangeOp(key, end string, rev int64) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(key), RangeEnd: []byte(end), Revision: rev}}}
}

func serialOp(key string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(key), Serializable: true}}}
}

func putOp(key, val string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte(val)}}}
}

func txnOp(t *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: t}}
}

// TestReadTxn checks that ReadTxn answers what Apply answers for the same
// read-only transaction, on values in bbolt and in the uncommitted batch.
func TestReadTxn(t *testing.T) {
	// a=11 (ver 2, create 2, mod 7), b=22, c=333, foo=x, foo1=y.
	h := rangeFixture(t)
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.put("c", "444") // in the batch, not in bbolt
	h.put("d", "5")
	h.must(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: 3}})
	E, N := pb.Compare_EQUAL, pb.Compare_NOT_EQUAL
	tests := []struct {
		name string
		txn  *pb.TxnRequest
		err  error
	}{
		{name: "success branch", txn: &pb.TxnRequest{
			Compare: []*pb.Compare{cmp("a", pb.Compare_VALUE, E, "11")},
			Success: []*pb.RequestOp{rangeOp("a", "", 0), rangeOp("c", "", 0)},
			Failure: []*pb.RequestOp{rangeOp("b", "", 0)}}},
		{name: "failure branch", txn: &pb.TxnRequest{
			Compare: []*pb.Compare{cmp("c", pb.Compare_VALUE, E, "333")},
			Success: []*pb.RequestOp{rangeOp("a", "", 0)},
			Failure: []*pb.RequestOp{rangeOp("a", "z", 0), rangeOp("c", "", 5)}}},
		{name: "compare over a range spanning batch and bbolt", txn: &pb.TxnRequest{
			Compare: []*pb.Compare{withEnd(cmp("a", pb.Compare_VERSION, N, 0), "e")},
			Success: []*pb.RequestOp{rangeOp("\x00", "\x00", 0)}}},
		{name: "nested", txn: &pb.TxnRequest{
			Compare: []*pb.Compare{cmp("zz", pb.Compare_VERSION, E, 0)},
			Success: []*pb.RequestOp{txnOp(&pb.TxnRequest{
				Compare: []*pb.Compare{cmp("d", pb.Compare_VALUE, E, "5")},
				Success: []*pb.RequestOp{rangeOp("d", "", 0)}}), rangeOp("foo", "fop", 0)}}},
		{name: "no ops", txn: &pb.TxnRequest{Compare: []*pb.Compare{cmp("a", pb.Compare_VALUE, E, "no")}}},
		{name: "a compacted revision", txn: &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp("a", "", 2)}}, err: ErrCompacted},
		{name: "a future revision", txn: &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp("a", "", 100)}}, err: ErrFutureRev},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := h.s.Rev()
			got, err := h.s.ReadTxn(tt.txn)
			wantErr(t, err, tt.err)
			applied, aerr := h.apply(txnReq(tt.txn))
			wantErr(t, aerr, tt.err)
			if h.s.Rev() != rev {
				t.Fatalf("applying a read-only txn moved the revision from %d to %d", rev, h.s.Rev())
			}
			if tt.err == nil && !proto.Equal(got, applied) {
				t.Fatalf("ReadTxn answered\n%v\nApply answered\n%v", got, applied)
			}
		})
	}
	_, err := h.s.ReadTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{putOp("a", "x")}})
	wantErr(t, err, ErrUnsupported)
}

func TestReadOnlyTxn(t *testing.T) {
	tests := []struct {
		name             string
		txn              *pb.TxnRequest
		readOnly, serial bool
	}{
		{name: "empty", txn: &pb.TxnRequest{}, readOnly: true, serial: true},
		{name: "ranges", txn: &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp("a", "", 0)}, Failure: []*pb.RequestOp{serialOp("b")}}, readOnly: true},
		{name: "serializable ranges", txn: &pb.TxnRequest{Success: []*pb.RequestOp{serialOp("a")}, Failure: []*pb.RequestOp{serialOp("b")}}, readOnly: true, serial: true},
		{name: "a put in the failure branch", txn: &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp("a", "", 0)}, Failure: []*pb.RequestOp{putOp("a", "x")}}},
		{name: "a delete", txn: &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("a")}}}}}},
		{name: "a put nested", txn: &pb.TxnRequest{Success: []*pb.RequestOp{txnOp(&pb.TxnRequest{Failure: []*pb.RequestOp{putOp("a", "x")}})}}},
		{name: "a linearizable range nested", txn: &pb.TxnRequest{Success: []*pb.RequestOp{serialOp("a"), txnOp(&pb.TxnRequest{Failure: []*pb.RequestOp{rangeOp("a", "", 0)}})}}, readOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadOnlyTxn(tt.txn); got != tt.readOnly {
				t.Errorf("ReadOnlyTxn = %v, want %v", got, tt.readOnly)
			}
			if tt.readOnly {
				if got := SerializableTxn(tt.txn); got != tt.serial {
					t.Errorf("SerializableTxn = %v, want %v", got, tt.serial)
				}
			}
		})
	}
}
