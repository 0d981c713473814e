package mvcc

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func cmp(key string, target pb.Compare_CompareTarget, result pb.Compare_CompareResult, v any) *pb.Compare {
	c := &pb.Compare{Key: []byte(key), Target: target, Result: result}
	switch target {
	case pb.Compare_VALUE:
		c.TargetUnion = &pb.Compare_Value{Value: []byte(v.(string))}
	case pb.Compare_VERSION:
		c.TargetUnion = &pb.Compare_Version{Version: int64(v.(int))}
	case pb.Compare_CREATE:
		c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: int64(v.(int))}
	case pb.Compare_MOD:
		c.TargetUnion = &pb.Compare_ModRevision{ModRevision: int64(v.(int))}
	case pb.Compare_LEASE:
		c.TargetUnion = &pb.Compare_Lease{Lease: int64(v.(int))}
	}
	return c
}

func withEnd(c *pb.Compare, end string) *pb.Compare {
	c.RangeEnd = []byte(end)
	return c
}

func TestTxnCompare(t *testing.T) {
	// a=11 (ver 2, create 2, mod 7), b=22, c=333, foo=x, foo1=y; a on lease 5 below.
	h := rangeFixture(t)
	h.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 5, TTL: 9}})
	h.must(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("a"), IgnoreValue: true, Lease: 5}}) // a ver 3, mod 8
	E, G, L, N := pb.Compare_EQUAL, pb.Compare_GREATER, pb.Compare_LESS, pb.Compare_NOT_EQUAL
	tests := []struct {
		name string
		cmp  []*pb.Compare
		want bool
	}{
		{"value equal", []*pb.Compare{cmp("a", pb.Compare_VALUE, E, "11")}, true},
		{"value not equal", []*pb.Compare{cmp("a", pb.Compare_VALUE, N, "11")}, false},
		{"value greater", []*pb.Compare{cmp("b", pb.Compare_VALUE, G, "2")}, true},
		{"value less", []*pb.Compare{cmp("b", pb.Compare_VALUE, L, "2")}, false},
		{"value on missing key", []*pb.Compare{cmp("zz", pb.Compare_VALUE, N, "x")}, false},
		{"version", []*pb.Compare{cmp("a", pb.Compare_VERSION, E, 3)}, true},
		{"version of missing is 0", []*pb.Compare{cmp("zz", pb.Compare_VERSION, E, 0)}, true},
		{"create", []*pb.Compare{cmp("a", pb.Compare_CREATE, E, 2)}, true},
		{"create less", []*pb.Compare{cmp("c", pb.Compare_CREATE, L, 4)}, false},
		{"mod", []*pb.Compare{cmp("a", pb.Compare_MOD, E, 8)}, true},
		{"mod greater", []*pb.Compare{cmp("a", pb.Compare_MOD, G, 7)}, true},
		{"lease", []*pb.Compare{cmp("a", pb.Compare_LEASE, E, 5)}, true},
		{"lease none", []*pb.Compare{cmp("b", pb.Compare_LEASE, E, 0)}, true},
		{"all must hold", []*pb.Compare{cmp("a", pb.Compare_VERSION, E, 3), cmp("b", pb.Compare_VERSION, E, 2)}, false},
		{"range all hold", []*pb.Compare{withEnd(cmp("foo", pb.Compare_VERSION, E, 1), "fop")}, true},
		{"range one fails", []*pb.Compare{withEnd(cmp("a", pb.Compare_MOD, L, 6), "c")}, false},
		{"range from key", []*pb.Compare{withEnd(cmp("b", pb.Compare_CREATE, G, 2), "\x00")}, true},
		{"range empty", []*pb.Compare{withEnd(cmp("x", pb.Compare_VERSION, E, 0), "y")}, true},
		{"no compares", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := h.s.Rev()
			resp := h.must(txnReq(&pb.TxnRequest{Compare: tt.cmp,
				Success: []*pb.RequestOp{opGet("a", "")}, Failure: []*pb.RequestOp{opGet("b", "")}})).(*pb.TxnResponse)
			if resp.Succeeded != tt.want {
				t.Fatalf("succeeded %v, want %v", resp.Succeeded, tt.want)
			}
			wantKey := "b"
			if tt.want {
				wantKey = "a"
			}
			got := resp.Responses[0].GetResponseRange().Kvs
			if len(got) != 1 || string(got[0].Key) != wantKey || h.s.Rev() != rev || resp.Header.Revision != rev {
				t.Fatalf("branch read %v, rev %d", got, h.s.Rev())
			}
		})
	}
}

func TestTxnWrites(t *testing.T) {
	h := newHarness(t, nil)
	h.put("a", "1") // rev 2
	h.put("b", "1") // rev 3
	resp := h.must(txnReq(&pb.TxnRequest{
		Compare: []*pb.Compare{cmp("a", pb.Compare_VALUE, pb.Compare_EQUAL, "1")},
		Success: []*pb.RequestOp{
			opGet("a", ""),
			opPut("a", "2"),
			opGet("a", ""), // sees the put above
			opDel("b", ""),
			opGet("b", ""), // sees the delete
			opTxn(&pb.TxnRequest{
				// Nested compares see the state before the outer txn.
				Compare: []*pb.Compare{cmp("a", pb.Compare_VALUE, pb.Compare_EQUAL, "1")},
				Success: []*pb.RequestOp{opPut("n", "then")},
				Failure: []*pb.RequestOp{opPut("n", "else")},
			}),
			opGet("\x00", "\x00"),
		},
	})).(*pb.TxnResponse)
	if !resp.Succeeded || resp.Header.Revision != 4 || h.s.Rev() != 4 {
		t.Fatalf("txn %v rev %d", resp, h.s.Rev())
	}
	r := resp.Responses
	if v := r[0].GetResponseRange().Kvs[0]; string(v.Value) != "1" || r[0].GetResponseRange().Header.Revision != 3 {
		t.Fatalf("first read %v", r[0])
	}
	if v := r[2].GetResponseRange().Kvs[0]; string(v.Value) != "2" || v.ModRevision != 4 || v.Version != 2 {
		t.Fatalf("read after put %v", v)
	}
	if r[3].GetResponseDeleteRange().Deleted != 1 || len(r[4].GetResponseRange().Kvs) != 0 {
		t.Fatalf("delete %v read %v", r[3], r[4])
	}
	nested := r[5].GetResponseTxn()
	if !nested.Succeeded || nested.Responses[0].GetResponsePut() == nil {
		t.Fatalf("nested %v", nested)
	}
	if got := keysOf(r[6].GetResponseRange().Kvs); !equalStrings(got, []string{"a", "n"}) {
		t.Fatalf("final read %v", got)
	}
	for _, kv := range r[6].GetResponseRange().Kvs {
		if kv.ModRevision != 4 {
			t.Fatalf("kv %v not at the txn revision", kv)
		}
	}
	h.mu.Lock()
	last := h.notified[len(h.notified)-1]
	h.mu.Unlock()
	if last.rev != 4 || len(last.evs) != 3 {
		t.Fatalf("notified %v", last)
	}
	for i, ev := range last.evs {
		if ev.Kv.ModRevision != 4 {
			t.Fatalf("event %d %v", i, ev)
		}
	}
}

func TestTxnRejected(t *testing.T) {
	tests := []struct {
		name    string
		txn     *pb.TxnRequest
		wantErr error
	}{
		{"put twice", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"), opPut("a", "2")}}, ErrDuplicateKey},
		{"put in deleted range", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "c"), opPut("b", "2")}}, ErrDuplicateKey},
		{"put deleted key", &pb.TxnRequest{Failure: []*pb.RequestOp{opPut("a", "2"), opDel("a", "")}}, ErrDuplicateKey},
		{"put in from-key delete", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "\x00"), opPut("zzz", "2")}}, ErrDuplicateKey},
		{"nested put twice", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"),
			opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "2")}})}}, ErrDuplicateKey},
		{"nested delete over put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("b", "1"),
			opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opDel("a", "c")}})}}, ErrDuplicateKey},
		{"ignore value on missing key", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("nokey"), IgnoreValue: true}}}}}, ErrKeyNotFound},
		{"lease missing", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), Lease: 42}}}}}, ErrLeaseNotFound},
		{"future read", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), Revision: 99}}}}}, ErrFutureRev},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.put("a", "0")
			_, err := h.apply(txnReq(tt.txn))
			wantErr(t, err, tt.wantErr)
			if h.s.Rev() != 2 || h.rng(&pb.RangeRequest{Key: []byte("x")}).Count != 0 {
				t.Fatalf("rejected txn wrote something: rev %d", h.s.Rev())
			}
		})
	}
	allowed := []struct {
		name string
		txn  *pb.TxnRequest
	}{
		{"same key in both branches", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1")}, Failure: []*pb.RequestOp{opPut("a", "2")}}},
		{"nested then and else", &pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{
			Success: []*pb.RequestOp{opPut("a", "1")}, Failure: []*pb.RequestOp{opPut("a", "2")}})}}},
		{"overlapping deletes", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "c"), opDel("b", "")}}},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.put("a", "0")
			h.must(txnReq(tt.txn))
		})
	}
}
