package mvcc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// garbageHistory puts 40 versions of each of 10 keys, deletes k9 and puts
// it again. A compaction at the deletion's revision (the last but one)
// keeps 11 records (the latest value of k0..k8, k9's tombstone, k9's new
// life) and drops 391.
func garbageHistory(t *testing.T, h *harness) {
	t.Helper()
	for i := range 400 {
		h.put(fmt.Sprintf("k%d", i%10), fmt.Sprintf("v%d", i))
	}
	h.must(delReq("k9", ""))
	h.put("k9", "again")
}

func compactReq(rev int64) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev}}
}

// waitChan fails the test if c is not ready by a generous deadline: the
// deadline only turns a hang into a failure, it measures nothing.
func waitChan(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestCompactionDoesNotBlockApply(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(c *Config) {
		c.CompactionBatchLimit = 10
		c.AfterCompactionBatch = func() {
			once.Do(func() {
				close(held)
				<-release
			})
		}
	})
	twin := newHarness(t, nil)
	for _, x := range []*harness{h, twin} {
		garbageHistory(t, x)
		x.must(compactReq(x.s.Rev() - 1))
	}
	if err := twin.s.WaitCompaction(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The compactor has committed one batch of ten and is held before the
	// next: the compaction is running.
	waitChan(t, "the first batch of deletions", held)
	if n := h.s.Compacting(); n != 391-10 {
		t.Fatalf("%d records queued after the first batch, want %d", n, 391-10)
	}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for i := range 100 {
			if _, err := h.apply(putReq(fmt.Sprintf("new%d", i), "x")); err != nil {
				t.Errorf("put during the compaction: %v", err)
				return
			}
			if _, err := h.s.Range(&pb.RangeRequest{Key: []byte("k3")}); err != nil {
				t.Errorf("range during the compaction: %v", err)
				return
			}
		}
	}()
	waitChan(t, "100 puts while the compaction is held", applied)
	if n := h.s.Compacting(); n != 391-10 {
		t.Fatalf("%d records queued after the puts, want the compaction still held at %d", n, 391-10)
	}
	close(release)
	if err := h.s.WaitCompaction(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		twin.put(fmt.Sprintf("new%d", i), "x")
	}
	// Kept: the latest of each key at the compaction revision, k9's
	// tombstone and its new life.
	if n, want := countRecords(t, h.s), 9+2+100; n != want {
		t.Fatalf("%d records after the compaction, want %d", n, want)
	}
	if a, b := h.s.LogicalSize(), twin.s.LogicalSize(); a != b {
		t.Fatalf("logical sizes %d and %d after the same history", a, b)
	}
	ha, errA := h.s.HashKV(0)
	hb, errB := twin.s.HashKV(0)
	if errA != nil || errB != nil || ha != hb {
		t.Fatalf("hashkv %+v %v and %+v %v, want equal", ha, errA, hb, errB)
	}
}

func TestCompactionHashKVWhileDeleting(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(c *Config) {
		c.CompactionBatchLimit = 10
		c.AfterCompactionBatch = func() { once.Do(func() { close(held); <-release }) }
	})
	defer close(release)
	twin := newHarness(t, nil)
	for _, x := range []*harness{h, twin} {
		garbageHistory(t, x)
		x.must(compactReq(x.s.Rev() - 1))
	}
	waitChan(t, "the first batch of deletions", held)
	for rev := h.s.CompactRev() + 1; rev <= h.s.Rev(); rev++ {
		ha, errA := h.s.HashKV(rev)
		hb, errB := twin.s.HashKV(rev)
		if errA != nil || errB != nil || ha != hb {
			t.Fatalf("at %d: hashkv %+v %v during the compaction and %+v %v after it, want equal", rev, ha, errA, hb, errB)
		}
	}
	if n := h.s.Compacting(); n != 0 {
		t.Fatalf("HashKV left %d records of the compaction undeleted", n)
	}
}

func TestCompactionFinishesAfterCrash(t *testing.T) {
	first := make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(c *Config) {
		c.CompactionBatchLimit = 10
		// The second batch would come after the pause, which outlasts
		// the test: the crash comes after exactly one.
		c.CompactionPause = time.Hour
		c.AfterCompactionBatch = func() { once.Do(func() { close(first) }) }
	})
	twin := newHarness(t, nil)
	for _, x := range []*harness{h, twin} {
		garbageHistory(t, x)
		x.must(compactReq(x.s.Rev() - 1))
	}
	waitChan(t, "the first batch of deletions", first)
	h.crash()

	// The reopened store finds the compaction unfinished and holds it
	// after its first batch until the test has looked.
	held, release := make(chan struct{}), make(chan struct{})
	var reopened sync.Once
	h.cfg.CompactionPause = 0
	h.cfg.AfterCompactionBatch = func() { reopened.Do(func() { close(held); <-release }) }
	h.open()
	if h.s.CompactRev() != twin.s.CompactRev() {
		t.Fatalf("compaction revision %d after the crash, want %d", h.s.CompactRev(), twin.s.CompactRev())
	}
	waitChan(t, "the reopened store's first batch", held)
	if n := h.s.Compacting(); n != 391-20 {
		t.Fatalf("%d records queued after the restart's first batch, want %d", n, 391-20)
	}
	close(release)
	if n, want := countRecords(t, h.s), 11; n != want {
		t.Fatalf("%d records once the restarted compaction finished, want %d", n, want)
	}
	// Both go on alike: versions and creation revisions continue from
	// what the compacted records say.
	for _, x := range []*harness{h, twin} {
		x.idx = max(h.idx, twin.idx)
		for i := range 10 {
			x.put(fmt.Sprintf("k%d", i), "after")
		}
	}
	for _, k := range []string{"k0", "k9"} {
		a := h.rng(&pb.RangeRequest{Key: []byte(k)}).Kvs[0]
		b := twin.rng(&pb.RangeRequest{Key: []byte(k)}).Kvs[0]
		if a.Version != b.Version || a.CreateRevision != b.CreateRevision || a.ModRevision != b.ModRevision {
			t.Fatalf("%s after the restart: %v, without one: %v", k, a, b)
		}
	}
	ha, errA := h.s.HashKV(0)
	hb, errB := twin.s.HashKV(0)
	if errA != nil || errB != nil || ha != hb {
		t.Fatalf("hashkv %+v %v and %+v %v, want equal", ha, errA, hb, errB)
	}
	sa, _, errA := h.s.Hash()
	sb, _, errB := twin.s.Hash()
	if errA != nil || errB != nil || sa != sb {
		t.Fatalf("hash %d %v and %d %v, want equal", sa, errA, sb, errB)
	}
}

func TestCompactionQuotaWaitsForDeletions(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(c *Config) {
		c.QuotaBytes = 40000
		c.CompactionBatchLimit = 10
		c.AfterCompactionBatch = func() { once.Do(func() { close(held); <-release }) }
	})
	defer close(release)
	big := string(make([]byte, 300))
	for i := 0; ; i++ {
		if _, err := h.apply(putReq(fmt.Sprintf("k%d", i%10), big)); err != nil {
			wantErr(t, err, ErrNoSpace)
			break
		}
	}
	h.must(compactReq(h.s.Rev()))
	waitChan(t, "the first batch of deletions", held)
	// The records still queued count until deleted; a put that does not
	// fit with them in waits for their deletion, which every member does
	// alike, instead of failing on this member only.
	if _, err := h.apply(putReq("big", string(make([]byte, 20000)))); err != nil {
		t.Fatalf("put that fits once the compaction is done: %v", err)
	}
	if n := h.s.Compacting(); n != 0 {
		t.Fatalf("%d records queued after the quota needed them deleted", n)
	}
}
