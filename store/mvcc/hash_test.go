package mvcc

import (
	"errors"
	"hash/crc32"
	"testing"

	"go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// compactEvery is where hashHistory compacts: every 15th entry, at the
// revision 4 below the current one.
const compactEvery = 15

// hashHistory applies workload entries from..to at raft indexes shifted
// by offset, compacting on the way, as two members of a cluster would
// apply the same log (offset makes their consistent indexes differ).
func hashHistory(t *testing.T, h *harness, from, to int, offset uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		var r *pb.InternalRaftRequest
		if i%compactEvery == 0 && h.s.Rev() > 5 {
			r = &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: h.s.Rev() - 4}}
		} else {
			r = workload(i)
		}
		if _, err := h.s.Apply(uint64(i)+offset, r); err != nil && !isRequestError(err) {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	h.idx = uint64(to) + offset
}

func TestHashKV(t *testing.T) {
	a, b := newHarness(t, nil), newHarness(t, nil)
	empty, err := a.s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	// etcd's conventions: an empty key space hashes the bucket name alone,
	// and a store never compacted reports compaction revision -1.
	if want := crc32.Checksum([]byte("key"), castagnoli); empty.Hash != want || empty.Compact != -1 || empty.Revision != 1 {
		t.Fatalf("empty store: %+v, want hash %d at revision 1, compact -1", empty, want)
	}

	hashHistory(t, a, 1, 50, 0)
	hashHistory(t, b, 1, 50, 1000)
	if a.s.CompactRev() <= 0 || a.s.CompactRev() != b.s.CompactRev() {
		t.Fatalf("compaction revisions %d and %d: the history must compact, the same on both", a.s.CompactRev(), b.s.CompactRev())
	}
	at50 := map[int64]uint32{}
	for rev := a.s.CompactRev() + 1; rev <= a.s.Rev(); rev++ {
		ha, errA := a.s.HashKV(rev)
		hb, errB := b.s.HashKV(rev)
		if errA != nil || errB != nil || ha != hb {
			t.Fatalf("at revision %d: %+v %v and %+v %v, want equal hashes", rev, ha, errA, hb, errB)
		}
		at50[rev] = ha.Hash
	}

	t.Run("a member further on hashes old revisions the same", func(t *testing.T) {
		// b applies more without compacting again (the compaction
		// revision must be the same for hashes to compare).
		for i := 51; i <= 64; i++ {
			if _, err := b.s.Apply(uint64(i)+1000, workload(i)); err != nil && !isRequestError(err) {
				t.Fatal(err)
			}
		}
		for rev, want := range at50 {
			h, err := b.s.HashKV(rev)
			if err != nil || h.Hash != want {
				t.Fatalf("at revision %d after more writes: %+v %v, want hash %d", rev, h, err, want)
			}
		}
	})
	t.Run("bad revisions", func(t *testing.T) {
		tests := []struct {
			name string
			rev  int64
			want error
		}{
			{name: "the compaction revision", rev: a.s.CompactRev(), want: ErrCompacted},
			{name: "below the compaction revision", rev: a.s.CompactRev() - 1, want: ErrCompacted},
			{name: "a future revision", rev: a.s.Rev() + 1, want: ErrFutureRev},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h, err := a.s.HashKV(tt.rev)
				wantErr(t, err, tt.want)
				if h.Compact != a.s.CompactRev() || h.Current != a.s.Rev() {
					t.Fatalf("the error's result %+v does not name compaction %d and current %d", h, a.s.CompactRev(), a.s.Rev())
				}
			})
		}
	})
	t.Run("an altered value changes the hash from its revision on", func(t *testing.T) {
		cur := a.s.Rev()
		r := alterLatest(t, a)
		for rev := a.s.CompactRev() + 1; rev <= cur; rev++ {
			h, err := a.s.HashKV(rev)
			if err != nil {
				t.Fatal(err)
			}
			if changed := h.Hash != at50[rev]; changed != (rev >= r.main) {
				t.Fatalf("at revision %d (value altered at %d): hash changed %v", rev, r.main, changed)
			}
		}
	})
}

// alterLatest changes the value of the newest record in h's file behind
// the store's back, as a flipped bit on disk would, reopens the store and
// returns the record's revision.
func alterLatest(t *testing.T, h *harness) revision {
	t.Helper()
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(h.cfg.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r revision
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKey)
		k, v := b.Cursor().Last()
		var ok bool
		if r, _, ok = parseRevKey(k); !ok {
			return errors.New("bad revision key")
		}
		var kv mvccpb.KeyValue
		if err := proto.Unmarshal(v, &kv); err != nil {
			return err
		}
		kv.Value = append(kv.Value, '!')
		nv, err := proto.Marshal(&kv)
		if err != nil {
			return err
		}
		return b.Put(append([]byte(nil), k...), nv)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	h.open()
	return r
}

func TestHash(t *testing.T) {
	a, b := newHarness(t, nil), newHarness(t, nil)
	hashHistory(t, a, 1, 40, 0)
	hashHistory(t, b, 1, 40, 7)
	ha, reva, errA := a.s.Hash()
	hb, revb, errB := b.s.Hash()
	if errA != nil || errB != nil || ha != hb || reva != revb || reva != a.s.Rev() {
		t.Fatalf("stores with the same entries at other raft indexes: %d@%d %v and %d@%d %v, want equal",
			ha, reva, errA, hb, revb, errB)
	}
	b.must(putReq("only-b", "1"))
	if hb, _, err := b.s.Hash(); err != nil || hb == ha {
		t.Fatalf("a write changed nothing: %d %v", hb, err)
	}
	a.must(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 9999, TTL: 5}})
	if h, _, err := a.s.Hash(); err != nil || h == ha {
		t.Fatalf("a lease grant changed nothing: %d %v", h, err)
	}
}
