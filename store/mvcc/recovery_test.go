package mvcc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// workload is a deterministic mix of every write kind, entry i of n.
func workload(i int) *pb.InternalRaftRequest {
	k := fmt.Sprintf("k%02d", i%7)
	switch i % 6 {
	case 0:
		return &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: int64(100 + i), TTL: 30}}
	case 1:
		return &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(fmt.Sprint(i)), Lease: int64(100 + i - 1)}}
	case 2:
		return txnReq(&pb.TxnRequest{
			Compare: []*pb.Compare{cmp(k, pb.Compare_VERSION, pb.Compare_GREATER, 0)},
			Success: []*pb.RequestOp{opPut(k+"t", fmt.Sprint(i)), opDel(k, "")},
			Failure: []*pb.RequestOp{opPut(k, fmt.Sprint(i))}})
	case 3:
		return delReq(fmt.Sprintf("k%02d", (i+3)%7), "")
	case 4:
		return &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: int64(100 + i - 4)}}
	}
	return putReq(k, fmt.Sprint(i))
}

// dump is everything observable about a store's state.
func dump(t *testing.T, s *Store) string {
	t.Helper()
	var b bytes.Buffer
	all, err := s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "rev %d compact %d ci %d\n", s.Rev(), s.CompactRev(), s.ConsistentIndex())
	for _, kv := range all.Kvs {
		fmt.Fprintf(&b, "%s\n", kv.String())
	}
	for _, l := range s.Leases() {
		fmt.Fprintf(&b, "lease %d ttl %d keys %q\n", l.ID, l.TTL, l.Keys)
	}
	evs, err := s.Events([]byte{0}, []byte{0}, s.CompactRev(), s.Rev(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		fmt.Fprintf(&b, "%s\n", ev.String())
	}
	return b.String()
}

func applyRange(t *testing.T, h *harness, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		_, err := h.s.Apply(uint64(i), workload(i))
		if err != nil && !isRequestError(err) {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	h.idx = uint64(to)
}

// isRequestError tells an error that is the request's answer from one
// that is the store's.
func isRequestError(err error) bool {
	for _, e := range []error{ErrKeyNotFound, ErrLeaseNotFound, ErrLeaseExist} {
		if errorsIs(err, e) {
			return true
		}
	}
	return false
}

func TestRestart(t *testing.T) {
	ref := newHarness(t, nil)
	applyRange(t, ref, 1, 40)
	refAt40 := dump(t, ref.s)
	applyRange(t, ref, 41, 60)
	want := dump(t, ref.s)

	t.Run("close and open", func(t *testing.T) {
		h := newHarness(t, nil)
		applyRange(t, h, 1, 60)
		if err := h.s.Close(); err != nil {
			t.Fatal(err)
		}
		h.open()
		if got := dump(t, h.s); got != want {
			t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("crash loses the batch only", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.BatchInterval = time.Hour })
		applyRange(t, h, 1, 40)
		if err := h.s.Commit(); err != nil {
			t.Fatal(err)
		}
		applyRange(t, h, 41, 60)
		h.crash()
		h.open()
		if got := dump(t, h.s); got != refAt40 {
			t.Fatalf("after crash:\n%s\nwant:\n%s", got, refAt40)
		}
		// Raft replays its whole log: what is in the store is skipped.
		for i := 1; i <= 40; i++ {
			_, err := h.s.Apply(uint64(i), workload(i))
			wantErr(t, err, ErrAlreadyApplied)
		}
		applyRange(t, h, 41, 60)
		if got := dump(t, h.s); got != want {
			t.Fatalf("after replay:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("batch limit commits", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.BatchLimit, c.BatchInterval = 5, time.Hour })
		applyRange(t, h, 1, 60)
		h.crash()
		h.open()
		if h.s.ConsistentIndex() == 0 {
			t.Fatalf("consistent index %d after crash with batch limit 5", h.s.ConsistentIndex())
		}
		applyRange(t, h, int(h.s.ConsistentIndex())+1, 60)
		if got := dump(t, h.s); got != want {
			t.Fatalf("after replay:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("batch interval commits", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.BatchInterval = 1 })
		applyRange(t, h, 1, 60)
		waitFor(t, "interval commit", func() bool {
			h.s.txMu.Lock()
			defer h.s.txMu.Unlock()
			return !h.s.dirty
		})
		h.crash()
		h.open()
		if got := dump(t, h.s); got != want {
			t.Fatalf("after crash:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestSnapshotRestore(t *testing.T) {
	src := newHarness(t, nil)
	applyRange(t, src, 1, 45)
	src.must(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: src.s.Rev() - 3}})
	want := dump(t, src.s)
	var snap bytes.Buffer
	n, err := src.s.Snapshot(&snap)
	if err != nil || n != int64(snap.Len()) {
		t.Fatalf("snapshot %d bytes of %d: %v", n, snap.Len(), err)
	}

	dst := newHarness(t, nil)
	applyRange(t, dst, 1, 10) // state the snapshot replaces
	if err := dst.s.Restore(bytes.NewReader(snap.Bytes()), src.s.ConsistentIndex()); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst.s); got != want {
		t.Fatalf("restored:\n%s\nwant:\n%s", got, want)
	}
	// The restored store goes on from the snapshot's index.
	next := src.s.ConsistentIndex() + 1
	r1, err1 := src.s.Apply(next, putReq("after", "1"))
	r2, err2 := dst.s.Apply(next, putReq("after", "1"))
	if err1 != nil || err2 != nil || !proto.Equal(r1, r2) {
		t.Fatalf("apply after restore: %v %v / %v %v", r1, err1, r2, err2)
	}
	if err := dst.s.Close(); err != nil {
		t.Fatal(err)
	}
	dst.open()
	if a, b := dump(t, src.s), dump(t, dst.s); a != b {
		t.Fatalf("reopened restored store:\n%s\nwant:\n%s", b, a)
	}
	bad := []struct {
		name  string
		data  []byte
		index uint64
	}{
		{name: "garbage", data: []byte("not a database")},
		{name: "a database behind the snapshot's index", data: snap.Bytes(), index: src.s.ConsistentIndex() + 1},
		{name: "a key out of order", data: misorder(t, snap.Bytes())},
		{name: "cut short", data: snap.Bytes()[:snap.Len()/2]},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := dst.s.Restore(bytes.NewReader(tt.data), tt.index); !errorsIs(err, ErrCorrupt) {
				t.Fatalf("restore: %v, want ErrCorrupt", err)
			}
			if got := dump(t, dst.s); got != dump(t, src.s) {
				t.Fatal("a refused restore changed the store")
			}
		})
	}
}

// misorder returns a copy of a database file with the first key of its
// key bucket made larger than the ones after it, as a flipped high bit
// would: bbolt opens the file, but its tree no longer reads back in order.
func misorder(t *testing.T, db []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	err = bdb.View(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(bucketKey).Cursor().First()
		first = append([]byte(nil), k...)
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(first) == 0 {
		t.Fatalf("no first key in the key bucket: %v", err)
	}
	return bytes.ReplaceAll(db, first, append([]byte{0x7f}, first[1:]...))
}

func TestQuota(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.QuotaBytes = 4096 })
	big := string(make([]byte, 1000))
	var err error
	n := 0
	for ; n < 10 && err == nil; n++ {
		_, err = h.apply(putReq(fmt.Sprint("k", n), big))
	}
	wantErr(t, err, ErrNoSpace)
	if n < 3 {
		t.Fatalf("quota hit after %d puts", n)
	}
	// Deleting and compacting frees space again.
	h.must(delReq("k0", "k9"))
	h.must(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: h.s.Rev()}})
	if _, err := h.apply(putReq("again", big)); err != nil {
		t.Fatalf("put after freeing space: %v", err)
	}
	if h.s.LogicalSize() <= 0 || h.s.Size() <= 0 {
		t.Fatalf("sizes %d %d", h.s.LogicalSize(), h.s.Size())
	}
}
