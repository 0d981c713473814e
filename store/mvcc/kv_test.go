package mvcc

import (
	"bytes"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// rangeFixture: a=1@2, b=22@3, c=333@4, foo=x@5, foo1=y@6, a=11@7
// (a fresh store is at revision 1, as etcd's is).
func rangeFixture(t *testing.T) *harness {
	h := newHarness(t, nil)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "22"}, {"c", "333"}, {"foo", "x"}, {"foo1", "y"}, {"a", "11"}} {
		h.put(kv[0], kv[1])
	}
	return h
}

func TestRange(t *testing.T) {
	h := rangeFixture(t)
	all := func(r *pb.RangeRequest) *pb.RangeRequest {
		r.Key, r.RangeEnd = []byte{0}, []byte{0}
		return r
	}
	tests := []struct {
		name    string
		req     *pb.RangeRequest
		keys    []string
		count   int64
		more    bool
		wantErr error
		check   func(t *testing.T, r *pb.RangeResponse)
	}{
		{name: "single", req: &pb.RangeRequest{Key: []byte("a")}, keys: []string{"a"}, count: 1,
			check: func(t *testing.T, r *pb.RangeResponse) {
				kv := r.Kvs[0]
				if string(kv.Value) != "11" || kv.Version != 2 || kv.CreateRevision != 2 || kv.ModRevision != 7 {
					t.Fatalf("kv %v", kv)
				}
			}},
		{name: "missing", req: &pb.RangeRequest{Key: []byte("zz")}, keys: []string{}, count: 0},
		{name: "prefix", req: &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("fop")}, keys: []string{"foo", "foo1"}, count: 2},
		{name: "from key", req: &pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte{0}}, keys: []string{"c", "foo", "foo1"}, count: 3},
		{name: "end before key", req: &pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte("b")}, keys: []string{}, count: 0},
		{name: "all", req: all(&pb.RangeRequest{}), keys: []string{"a", "b", "c", "foo", "foo1"}, count: 5},
		{name: "limit", req: all(&pb.RangeRequest{Limit: 2}), keys: []string{"a", "b"}, count: 5, more: true},
		{name: "limit exact", req: all(&pb.RangeRequest{Limit: 5}), keys: []string{"a", "b", "c", "foo", "foo1"}, count: 5},
		{name: "at revision", req: all(&pb.RangeRequest{Revision: 4}), keys: []string{"a", "b", "c"}, count: 3,
			check: func(t *testing.T, r *pb.RangeResponse) {
				if string(r.Kvs[0].Value) != "1" || r.Header.Revision != 7 {
					t.Fatalf("a at 4 = %v, header %d", r.Kvs[0], r.Header.Revision)
				}
			}},
		{name: "future revision", req: all(&pb.RangeRequest{Revision: 8}), wantErr: ErrFutureRev},
		{name: "keys only", req: all(&pb.RangeRequest{KeysOnly: true}), keys: []string{"a", "b", "c", "foo", "foo1"}, count: 5,
			check: func(t *testing.T, r *pb.RangeResponse) {
				for _, kv := range r.Kvs {
					if kv.Value != nil || kv.ModRevision == 0 {
						t.Fatalf("keys_only kv %v", kv)
					}
				}
			}},
		{name: "count only", req: all(&pb.RangeRequest{CountOnly: true}), keys: []string{}, count: 5},
		{name: "count only limit", req: all(&pb.RangeRequest{CountOnly: true, Limit: 1}), keys: []string{}, count: 5},
		{name: "sort value desc", req: all(&pb.RangeRequest{SortTarget: pb.RangeRequest_VALUE, SortOrder: pb.RangeRequest_DESCEND}),
			keys: []string{"foo1", "foo", "c", "b", "a"}, count: 5},
		{name: "sort create asc limit", req: all(&pb.RangeRequest{SortTarget: pb.RangeRequest_CREATE, SortOrder: pb.RangeRequest_ASCEND, Limit: 2}),
			keys: []string{"a", "b"}, count: 5, more: true},
		{name: "sort mod default order", req: all(&pb.RangeRequest{SortTarget: pb.RangeRequest_MOD}),
			keys: []string{"b", "c", "foo", "foo1", "a"}, count: 5},
		{name: "sort key desc", req: all(&pb.RangeRequest{SortOrder: pb.RangeRequest_DESCEND}),
			keys: []string{"foo1", "foo", "c", "b", "a"}, count: 5},
		{name: "sort version desc", req: all(&pb.RangeRequest{SortTarget: pb.RangeRequest_VERSION, SortOrder: pb.RangeRequest_DESCEND}),
			keys: []string{"a", "b", "c", "foo", "foo1"}, count: 5},
		{name: "sort mod desc limit", req: all(&pb.RangeRequest{SortTarget: pb.RangeRequest_MOD, SortOrder: pb.RangeRequest_DESCEND, Limit: 1}),
			keys: []string{"a"}, count: 5, more: true},
		{name: "min mod", req: all(&pb.RangeRequest{MinModRevision: 5}), keys: []string{"a", "foo", "foo1"}, count: 5},
		{name: "max create", req: all(&pb.RangeRequest{MaxCreateRevision: 3}), keys: []string{"a", "b"}, count: 5},
		{name: "min create max mod", req: all(&pb.RangeRequest{MinCreateRevision: 3, MaxModRevision: 5}), keys: []string{"b", "c", "foo"}, count: 5},
		{name: "filter with limit", req: all(&pb.RangeRequest{MinModRevision: 4, Limit: 2}), keys: []string{"a", "c"}, count: 5, more: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.s.Range(tt.req)
			wantErr(t, err, tt.wantErr)
			if err != nil {
				return
			}
			if got := keysOf(resp.Kvs); !equalStrings(got, tt.keys) {
				t.Fatalf("keys %v, want %v", got, tt.keys)
			}
			if resp.Count != tt.count || resp.More != tt.more {
				t.Fatalf("count %d more %v, want %d %v", resp.Count, resp.More, tt.count, tt.more)
			}
			if resp.Header.Revision != 7 {
				t.Fatalf("header revision %d", resp.Header.Revision)
			}
			if tt.check != nil {
				tt.check(t, resp)
			}
		})
	}
}

func TestRevisionsPerOp(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name string
		req  *pb.InternalRaftRequest
		rev  int64 // store revision afterwards, and the response header's
	}{
		{"put creates", putReq("a", "1"), 2},
		{"put updates", putReq("a", "2"), 3},
		{"delete nothing", delReq("zz", ""), 3},
		{"delete one", delReq("a", ""), 4},
		{"txn without writes", txnReq(&pb.TxnRequest{Success: []*pb.RequestOp{opGet("a", "")}}), 4},
		{"txn two puts", txnReq(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"), opPut("y", "2")}}), 5},
		{"txn delete nothing", txnReq(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("nope", "")}}), 5},
		{"lease grant", &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 7, TTL: 10}}, 5},
		{"put with lease", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("l"), Value: []byte("v"), Lease: 7}}, 6},
		{"revoke deletes", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 7}}, 7},
		{"grant again", &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 8, TTL: 10}}, 7},
		{"revoke empty", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 8}}, 7},
		{"compaction", &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: 4}}, 7},
		{"range through raft", &pb.InternalRaftRequest{Range: &pb.RangeRequest{Key: []byte("x")}}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.must(tt.req)
			if h.s.Rev() != tt.rev {
				t.Fatalf("rev %d, want %d", h.s.Rev(), tt.rev)
			}
			hdr := resp.(interface{ GetHeader() *pb.ResponseHeader }).GetHeader()
			if hdr.GetRevision() != tt.rev {
				t.Fatalf("header revision %d, want %d", hdr.GetRevision(), tt.rev)
			}
		})
	}
	r := h.rng(&pb.RangeRequest{Key: []byte("x"), RangeEnd: []byte("z")})
	if len(r.Kvs) != 2 || r.Kvs[0].ModRevision != 5 || r.Kvs[1].ModRevision != 5 {
		t.Fatalf("txn writes %v", r.Kvs)
	}
	if h.s.ConsistentIndex() != uint64(len(tests)) {
		t.Fatalf("consistent index %d", h.s.ConsistentIndex())
	}
}

func TestPut(t *testing.T) {
	h := newHarness(t, nil)
	h.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 1, TTL: 5}})
	h.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 2, TTL: 5}})
	h.put("k", "v1")                                                                                      // rev 2
	h.must(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v2"), Lease: 1}}) // rev 3
	tests := []struct {
		name    string
		put     *pb.PutRequest
		wantErr error
		value   string
		lease   int64
		prev    string // prev_kv value, "" when none wanted
		version int64
	}{
		{name: "prev kv", put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v3"), Lease: 1, PrevKv: true}, value: "v3", lease: 1, prev: "v2", version: 3},
		{name: "ignore value keeps value", put: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true, Lease: 2}, value: "v3", lease: 2, version: 4},
		{name: "ignore lease keeps lease", put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v5"), IgnoreLease: true}, value: "v5", lease: 2, version: 5},
		{name: "no lease detaches", put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v6")}, value: "v6", lease: 0, version: 6},
		{name: "ignore value missing key", put: &pb.PutRequest{Key: []byte("nokey"), IgnoreValue: true}, wantErr: ErrKeyNotFound},
		{name: "ignore lease missing key", put: &pb.PutRequest{Key: []byte("nokey"), Value: []byte("x"), IgnoreLease: true}, wantErr: ErrKeyNotFound},
		{name: "value provided", put: &pb.PutRequest{Key: []byte("k"), Value: []byte("x"), IgnoreValue: true}, wantErr: ErrValueProvided},
		{name: "lease provided", put: &pb.PutRequest{Key: []byte("k"), Lease: 1, IgnoreLease: true}, wantErr: ErrLeaseProvided},
		{name: "lease not found", put: &pb.PutRequest{Key: []byte("k"), Value: []byte("x"), Lease: 99}, wantErr: ErrLeaseNotFound},
		{name: "empty key", put: &pb.PutRequest{Value: []byte("x")}, wantErr: ErrEmptyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.s.Rev()
			resp, err := h.apply(&pb.InternalRaftRequest{Put: tt.put})
			wantErr(t, err, tt.wantErr)
			if err != nil {
				if h.s.Rev() != before || resp != nil {
					t.Fatalf("failed put changed revision %d -> %d, resp %v", before, h.s.Rev(), resp)
				}
				return
			}
			pr := resp.(*pb.PutResponse)
			if got := string(pr.GetPrevKv().GetValue()); got != tt.prev {
				t.Fatalf("prev kv %q, want %q", got, tt.prev)
			}
			kv := h.rng(&pb.RangeRequest{Key: tt.put.Key}).Kvs[0]
			if string(kv.Value) != tt.value || kv.Lease != tt.lease || kv.Version != tt.version || kv.CreateRevision != 2 {
				t.Fatalf("kv %v", kv)
			}
			for _, id := range []int64{1, 2} {
				l, _ := h.s.Lease(id)
				attached := len(l.Keys) == 1
				if attached != (id == tt.lease) {
					t.Fatalf("lease %d keys %q, key's lease %d", id, l.Keys, tt.lease)
				}
			}
		})
	}
	// A key recreated after a delete starts a new life.
	h.must(delReq("k", ""))
	pr := h.put("k", "again")
	kv := h.rng(&pb.RangeRequest{Key: []byte("k")}).Kvs[0]
	if kv.Version != 1 || kv.CreateRevision != pr.Header.Revision {
		t.Fatalf("recreated kv %v", kv)
	}
}

func TestDeleteRange(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		end     string
		deleted []string
		left    []string
	}{
		{"single", "b", "", []string{"b"}, []string{"a", "c", "foo", "foo1"}},
		{"missing", "zz", "", nil, []string{"a", "b", "c", "foo", "foo1"}},
		{"prefix", "foo", "fop", []string{"foo", "foo1"}, []string{"a", "b", "c"}},
		{"from key", "c", "\x00", []string{"c", "foo", "foo1"}, []string{"a", "b"}},
		{"all", "\x00", "\x00", []string{"a", "b", "c", "foo", "foo1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := rangeFixture(t)
			resp := h.must(delReq(tt.key, tt.end)).(*pb.DeleteRangeResponse)
			if resp.Deleted != int64(len(tt.deleted)) || !equalStrings(keysOf(resp.PrevKvs), append([]string{}, tt.deleted...)) {
				t.Fatalf("deleted %d prev %v, want %v", resp.Deleted, keysOf(resp.PrevKvs), tt.deleted)
			}
			for _, kv := range resp.PrevKvs {
				if kv.Key[0] == 'a' && string(kv.Value) != "11" {
					t.Fatalf("prev kv %v", kv)
				}
			}
			wantRev := int64(7)
			if len(tt.deleted) > 0 {
				wantRev = 8
			}
			if h.s.Rev() != wantRev || resp.Header.Revision != wantRev {
				t.Fatalf("rev %d header %d, want %d", h.s.Rev(), resp.Header.Revision, wantRev)
			}
			left := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
			if !equalStrings(keysOf(left.Kvs), append([]string{}, tt.left...)) {
				t.Fatalf("left %v, want %v", keysOf(left.Kvs), tt.left)
			}
			old := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 7})
			if old.Count != 5 {
				t.Fatalf("history at 7 has %d keys", old.Count)
			}
		})
	}
}

// TestFirstRevision pins etcd's numbering, which clients and scripts
// written against etcd rely on: an empty store is at revision 1 and the
// first write gets revision 2, however the empty store came to be.
func TestFirstRevision(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, h *harness)
	}{
		{"fresh", func(*testing.T, *harness) {}},
		{"reopened without writes", func(t *testing.T, h *harness) {
			if err := h.s.Close(); err != nil {
				t.Fatal(err)
			}
			h.open()
		}},
		// A lease grant makes the batch dirty without a new revision, so
		// the close commits the empty store's revision to the meta bucket.
		{"reopened after a lease grant", func(t *testing.T, h *harness) {
			h.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 1, TTL: 5}})
			if h.s.Rev() != 1 {
				t.Fatalf("lease grant moved the empty store to revision %d", h.s.Rev())
			}
			if err := h.s.Close(); err != nil {
				t.Fatal(err)
			}
			h.open()
		}},
		{"restored from an empty snapshot", func(t *testing.T, h *harness) {
			var snap bytes.Buffer
			if _, err := h.s.Snapshot(&snap); err != nil {
				t.Fatal(err)
			}
			if err := h.s.Restore(&snap, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"compacted at revision 1", func(t *testing.T, h *harness) {
			h.must(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: 1, Physical: true}})
			if h.s.CompactRev() != 1 {
				t.Fatalf("compact rev %d", h.s.CompactRev())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.prepare(t, h)
			if h.s.Rev() != 1 {
				t.Fatalf("empty store at revision %d, want 1", h.s.Rev())
			}
			empty := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
			if empty.Header.Revision != 1 || empty.Count != 0 {
				t.Fatalf("empty range %v", empty)
			}
			if at1 := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 1}); at1.Count != 0 {
				t.Fatalf("range at revision 1 %v", at1)
			}
			_, err := h.s.Range(&pb.RangeRequest{Key: []byte("foo"), Revision: 2})
			wantErr(t, err, ErrFutureRev)

			pr := h.put("foo", "bar")
			if pr.Header.Revision != 2 || h.s.Rev() != 2 {
				t.Fatalf("first put header revision %d, store %d, want 2", pr.Header.Revision, h.s.Rev())
			}
			kv := h.rng(&pb.RangeRequest{Key: []byte("foo")}).Kvs[0]
			if kv.ModRevision != 2 || kv.CreateRevision != 2 || kv.Version != 1 {
				t.Fatalf("first kv %v", kv)
			}
			if old, err := h.s.KVAt([]byte("foo"), 1); err != nil || old != nil {
				t.Fatalf("foo at revision 1: %v, %v", old, err)
			}
			evs, err := h.s.Events([]byte("foo"), nil, 1, 2, 0)
			if err != nil || !equalStrings(evString(evs), []string{"PUT foo@2=bar"}) {
				t.Fatalf("events %q, %v", evString(evs), err)
			}
			h.mu.Lock()
			notified := h.notified
			h.mu.Unlock()
			if len(notified) != 1 || notified[0].rev != 2 {
				t.Fatalf("notified %v", notified)
			}
		})
	}
}
