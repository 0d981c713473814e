package mvcc

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

func evString(evs []*mvccpb.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%s %s@%d=%s", ev.Type, ev.Kv.Key, ev.Kv.ModRevision, ev.Kv.Value)
	}
	return out
}

// historyFixture: a=1@2, b=1@3, a=2@4, txn{c=1, d=1}@5, delete a@6, a=3@7
// (a fresh store is at revision 1, as etcd's is).
func historyFixture(t *testing.T) *harness {
	h := newHarness(t, nil)
	h.put("a", "1")
	h.put("b", "1")
	h.put("a", "2")
	h.must(txnReq(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("c", "1"), opPut("d", "1")}}))
	h.must(delReq("a", ""))
	h.put("a", "3")
	return h
}

func TestEventsAndKVAt(t *testing.T) {
	events := []struct {
		name     string
		key, end string
		from, to int64
		limit    int
		want     []string
	}{
		{"single key", "a", "", 2, 100, 0, []string{"PUT a@2=1", "PUT a@4=2", "DELETE a@6=", "PUT a@7=3"}},
		{"from the empty revision", "a", "", 1, 100, 0, []string{"PUT a@2=1", "PUT a@4=2", "DELETE a@6=", "PUT a@7=3"}},
		{"window", "a", "", 3, 6, 0, []string{"PUT a@4=2", "DELETE a@6="}},
		{"all", "\x00", "\x00", 4, 0x7fffffff, 0, []string{"PUT a@4=2", "PUT c@5=1", "PUT d@5=1", "DELETE a@6=", "PUT a@7=3"}},
		{"range", "b", "d", 2, 7, 0, []string{"PUT b@3=1", "PUT c@5=1"}},
		{"limit keeps revision whole", "\x00", "\x00", 4, 7, 2, []string{"PUT a@4=2", "PUT c@5=1", "PUT d@5=1"}},
		{"limit", "\x00", "\x00", 2, 7, 1, []string{"PUT a@2=1"}},
		{"empty window", "a", "", 8, 10, 0, []string{}},
	}
	kvat := []struct {
		key  string
		rev  int64
		want string // "" = no key
	}{
		{"a", 1, ""}, {"a", 2, "1"}, {"a", 3, "1"}, {"a", 5, "2"}, {"a", 6, ""}, {"a", 7, "3"}, {"d", 4, ""}, {"d", 5, "1"}, {"zz", 7, ""},
	}
	// The same history read from the uncommitted buffer and from bbolt.
	for _, stage := range []string{"buffered", "committed"} {
		h := historyFixture(t)
		if stage == "committed" {
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range events {
			t.Run(stage+"/events/"+tt.name, func(t *testing.T) {
				var end []byte
				if tt.end != "" {
					end = []byte(tt.end)
				}
				evs, err := h.s.Events([]byte(tt.key), end, tt.from, tt.to, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := evString(evs); !equalStrings(got, tt.want) {
					t.Fatalf("events %q, want %q", got, tt.want)
				}
			})
		}
		for _, tt := range kvat {
			t.Run(fmt.Sprintf("%s/kvat/%s@%d", stage, tt.key, tt.rev), func(t *testing.T) {
				kv, err := h.s.KVAt([]byte(tt.key), tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				if string(kv.GetValue()) != tt.want || (kv == nil) != (tt.want == "") {
					t.Fatalf("kv %v, want %q", kv, tt.want)
				}
			})
		}
	}
	h := historyFixture(t)
	_, err := h.s.KVAt([]byte("a"), 8)
	wantErr(t, err, ErrFutureRev)
	// notify saw every revision once, in order, with the same events.
	all, err := h.s.Events([]byte{0}, []byte{0}, 1, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	var notified []*mvccpb.Event
	for i, n := range h.notified {
		if n.rev != int64(i+2) {
			t.Fatalf("notification %d has revision %d", i, n.rev)
		}
		notified = append(notified, n.evs...)
	}
	if a, b := evString(all), evString(notified); !equalStrings(a, b) {
		t.Fatalf("notified %q, history %q", b, a)
	}
}

// countRecords counts the records in s's file once the compactions
// applied so far have deleted theirs.
func countRecords(t *testing.T, s *Store) int {
	t.Helper()
	if err := s.WaitCompaction(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketKey).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompaction(t *testing.T) {
	h := historyFixture(t)  // 7 records: a@2 b@3 a@4 c@5 d@5 a@6(tomb) a@7
	h.put("b", "2")         // rev 8
	h.must(delReq("d", "")) // rev 9: tombstone
	if n := countRecords(t, h.s); n != 9 {
		t.Fatalf("%d records before compaction", n)
	}
	compact := func(rev int64) error {
		_, err := h.apply(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev, Physical: true}})
		return err
	}
	wantErr(t, compact(10), ErrFutureRev)
	wantErr(t, compact(6), nil)
	// Kept: b@3 (latest <= 6), c@5, tombstone a@6 (at the compaction
	// revision), a@7, b@8, d@5 (live until 9), d@9.
	if n := countRecords(t, h.s); n != 7 {
		t.Fatalf("%d records after compaction at 6", n)
	}
	wantErr(t, compact(6), ErrCompacted)
	wantErr(t, compact(5), ErrCompacted)
	if h.s.CompactRev() != 6 {
		t.Fatalf("compact rev %d", h.s.CompactRev())
	}
	_, err := h.s.Range(&pb.RangeRequest{Key: []byte("a"), Revision: 5})
	wantErr(t, err, ErrCompacted)
	at6 := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 6})
	if got := keysOf(at6.Kvs); !equalStrings(got, []string{"b", "c", "d"}) {
		t.Fatalf("at compaction revision: %v", got)
	}
	_, err = h.s.Events([]byte("a"), nil, 5, 9, 0)
	wantErr(t, err, ErrCompacted)
	evs, err := h.s.Events([]byte("a"), nil, 6, 9, 0)
	if err != nil || !equalStrings(evString(evs), []string{"DELETE a@6=", "PUT a@7=3"}) {
		t.Fatalf("events from compaction revision %q, %v", evString(evs), err)
	}
	_, err = h.s.KVAt([]byte("a"), 5)
	wantErr(t, err, ErrCompacted)

	wantErr(t, compact(9), nil)
	// Kept: a@7, b@8, c@5, d@9 (tombstone at the compaction revision).
	if n := countRecords(t, h.s); n != 4 {
		t.Fatalf("%d records after compaction at 9", n)
	}
	cur := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if got := keysOf(cur.Kvs); !equalStrings(got, []string{"a", "b", "c"}) || string(cur.Kvs[1].Value) != "2" {
		t.Fatalf("current after compaction: %v", cur.Kvs)
	}
	h.put("e", "1") // rev 10
	wantErr(t, compact(10), nil)
	if h.s.index.get([]byte("d")) != nil {
		t.Fatal("deleted key still in the index after its tombstone was compacted")
	}
	// The state survives a restart.
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	if h.s.CompactRev() != 10 || h.s.Rev() != 10 {
		t.Fatalf("after reopen compact %d rev %d", h.s.CompactRev(), h.s.Rev())
	}
	if got := keysOf(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}).Kvs); !equalStrings(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("after reopen %v", got)
	}
}

func TestLeases(t *testing.T) {
	h := newHarness(t, nil)
	grant := func(id int64) error {
		_, err := h.apply(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: id, TTL: id * 10}})
		return err
	}
	revoke := func(id int64) error {
		_, err := h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
		return err
	}
	putL := func(k string, id int64) {
		h.must(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: id}})
	}
	wantErr(t, grant(1), nil)
	wantErr(t, grant(2), nil)
	wantErr(t, grant(1), ErrLeaseExist)
	wantErr(t, grant(0), ErrLeaseID)
	wantErr(t, revoke(3), ErrLeaseNotFound)
	putL("x", 1)
	putL("y", 1)
	putL("z", 1)
	putL("w", 2)
	putL("z", 2)            // moves z from lease 1 to 2
	h.must(delReq("y", "")) // detaches y
	l1, ok := h.s.Lease(1)
	if !ok || l1.TTL != 10 || !equalStrings(bytesToStrings(l1.Keys), []string{"x"}) {
		t.Fatalf("lease 1 %+v", l1)
	}
	if ls := h.s.Leases(); len(ls) != 2 || ls[1].ID != 2 || !equalStrings(bytesToStrings(ls[1].Keys), []string{"w", "z"}) {
		t.Fatalf("leases %+v", ls)
	}
	// Attachments are rebuilt from the keys on open.
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	if ls := h.s.Leases(); len(ls) != 2 || !equalStrings(bytesToStrings(ls[0].Keys), []string{"x"}) ||
		!equalStrings(bytesToStrings(ls[1].Keys), []string{"w", "z"}) || ls[1].TTL != 20 {
		t.Fatalf("leases after reopen %+v", ls)
	}
	rev := h.s.Rev()
	wantErr(t, revoke(2), nil)
	if h.s.Rev() != rev+1 {
		t.Fatalf("revoke moved rev %d -> %d", rev, h.s.Rev())
	}
	if _, ok := h.s.Lease(2); ok {
		t.Fatal("lease 2 still exists")
	}
	h.mu.Lock()
	last := h.notified[len(h.notified)-1]
	h.mu.Unlock()
	if got := evString(last.evs); last.rev != rev+1 || !equalStrings(got, []string{
		fmt.Sprintf("DELETE w@%d=", rev+1), fmt.Sprintf("DELETE z@%d=", rev+1)}) {
		t.Fatalf("revoke events %q at %d", got, last.rev)
	}
	if got := keysOf(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}).Kvs); !equalStrings(got, []string{"x"}) {
		t.Fatalf("keys after revoke %v", got)
	}
	wantErr(t, revoke(2), ErrLeaseNotFound)
}

func bytesToStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}
