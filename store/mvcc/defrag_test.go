package mvcc

import (
	"context"
	"fmt"
	"os"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestDefragment(t *testing.T) {
	h := newHarness(t, nil)
	val := string(make([]byte, 1024))
	for i := range 3000 {
		h.put(fmt.Sprintf("k%04d", i), val)
	}
	h.must(delReq("k0010", "k9999"))
	h.must(compactReq(h.s.Rev()))
	if err := h.s.WaitCompaction(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	size, inUse := h.s.Size(), h.s.SizeInUse()
	if inUse <= 0 || inUse >= size/2 {
		t.Fatalf("before defragmenting: size %d, in use %d; want most of the file free after deleting 2990 of 3000 values", size, inUse)
	}
	kv, errKV := h.s.HashKV(0)
	all, _, errAll := h.s.Hash()
	if errKV != nil || errAll != nil {
		t.Fatal(errKV, errAll)
	}

	if err := h.s.Defragment(); err != nil {
		t.Fatalf("Defragment: %v", err)
	}
	// The copy's pages are filled as the key bucket's are (90%) and it
	// commits every defragCommitEvery records, so it may take a few pages
	// more than were in use.
	if after := h.s.Size(); after >= size/2 || h.s.SizeInUse() > after {
		t.Fatalf("after defragmenting: size %d (in use %d), want under half the %d bytes before", after, h.s.SizeInUse(), size)
	}
	if _, err := os.Stat(h.cfg.Path + ".defrag"); !os.IsNotExist(err) {
		t.Fatalf("the copy is left beside the database: %v", err)
	}
	check := func(when string) {
		t.Helper()
		kv2, errKV := h.s.HashKV(0)
		all2, _, errAll := h.s.Hash()
		if errKV != nil || errAll != nil || kv2 != kv {
			t.Fatalf("%s: hashkv %+v %v, want %+v; hash %v", when, kv2, errKV, kv, errAll)
		}
		if all2 != all {
			t.Fatalf("%s: hash %d, want %d", when, all2, all)
		}
		got := h.rng(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
		if got.Count != 10 || string(got.Kvs[9].Key) != "k0009" {
			t.Fatalf("%s: range found %d keys, want k0000..k0009", when, got.Count)
		}
	}
	check("after defragmenting")
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	check("after reopening the defragmented file")
	if got := h.put("k0000", "new"); got.Header.Revision != kv.Current+1 {
		t.Fatalf("put after defragmenting at revision %d, want %d", got.Header.Revision, kv.Current+1)
	}
}
