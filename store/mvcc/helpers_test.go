package mvcc

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// harness drives one Store the way the raft apply loop does: entries at
// consecutive indexes, notifications recorded.
type harness struct {
	t   testing.TB
	cfg Config
	s   *Store
	idx uint64

	mu       sync.Mutex
	notified []notification
}

type notification struct {
	rev int64
	evs []*mvccpb.Event
}

func newHarness(t testing.TB, mutate func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "db"))
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, cfg: cfg}
	h.open()
	t.Cleanup(func() {
		if h.s != nil && !h.s.closed {
			_ = h.s.Close()
		}
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	s, err := Open(h.cfg, h.record)
	if err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	h.s = s
	h.idx = s.ConsistentIndex()
}

func (h *harness) record(rev int64, evs []*mvccpb.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notified = append(h.notified, notification{rev, evs})
}

func (h *harness) apply(r *pb.InternalRaftRequest) (proto.Message, error) {
	h.idx++
	return h.s.Apply(h.idx, r)
}

func (h *harness) must(r *pb.InternalRaftRequest) proto.Message {
	h.t.Helper()
	resp, err := h.apply(r)
	if err != nil {
		h.t.Fatalf("apply %v: %v", r, err)
	}
	return resp
}

func (h *harness) put(k, v string) *pb.PutResponse {
	h.t.Helper()
	return h.must(putReq(k, v)).(*pb.PutResponse)
}

func (h *harness) rng(r *pb.RangeRequest) *pb.RangeResponse {
	h.t.Helper()
	resp, err := h.s.Range(r)
	if err != nil {
		h.t.Fatalf("range %v: %v", r, err)
	}
	return resp
}

// crash abandons the store as a power loss would: the batch is rolled
// back, nothing is committed.
func (h *harness) crash() {
	s := h.s
	s.txMu.Lock()
	_ = s.tx.Rollback()
	s.closed = true
	s.txMu.Unlock()
	close(s.stop)
	<-s.done
	if err := s.db.Close(); err != nil {
		h.t.Fatalf("close db: %v", err)
	}
}

func putReq(k, v string) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}}
}

func delReq(k, end string) *pb.InternalRaftRequest {
	d := &pb.DeleteRangeRequest{Key: []byte(k), PrevKv: true}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return &pb.InternalRaftRequest{DeleteRange: d}
}

func txnReq(t *pb.TxnRequest) *pb.InternalRaftRequest { return &pb.InternalRaftRequest{Txn: t} }

func opPut(k, v string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}}}
}

func opGet(k, end string) *pb.RequestOp {
	r := &pb.RangeRequest{Key: []byte(k)}
	if end != "" {
		r.RangeEnd = []byte(end)
	}
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: r}}
}

func opDel(k, end string) *pb.RequestOp {
	d := &pb.DeleteRangeRequest{Key: []byte(k)}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: d}}
}

func opTxn(t *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: t}}
}

func keysOf(kvs []*mvccpb.KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
