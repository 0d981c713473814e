package mvcc

import (
	"fmt"
	"sync"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// TestConcurrentReaders runs readers against Apply while small batches
// commit underneath them: a read pinned at a revision must give the same
// answer before and after commits and later writes, every applied write
// must be readable as soon as Apply returns, and the notify callback may
// read history without deadlocking.
func TestConcurrentReaders(t *testing.T) {
	var (
		s        *Store
		notifyMu sync.Mutex
		bad      []string
	)
	fail := func(format string, args ...any) {
		notifyMu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		notifyMu.Unlock()
	}
	h := newHarness(t, func(c *Config) { c.BatchLimit = 7; c.BatchInterval = 1 })
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	s, err = Open(h.cfg, func(rev int64, evs []*mvccpb.Event) {
		got, err := s.Events([]byte{0}, []byte{0}, rev, rev, 0)
		if err != nil || len(got) != len(evs) {
			fail("notify %d: history has %d events, notified %d: %v", rev, len(got), len(evs), err)
			return
		}
		for _, ev := range evs {
			if ev.Type == mvccpb.Event_PUT {
				kv, err := s.KVAt(ev.Kv.Key, rev)
				if err != nil || kv == nil || kv.ModRevision != rev {
					fail("notify %d: KVAt %q = %v, %v", rev, ev.Kv.Key, kv, err)
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	const writes = 400
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rev := s.Rev()
				if rev < 1 {
					// A store is never below revision 1, as etcd's is not.
					fail("store at revision %d", rev)
					return
				}
				req := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
				first, err := s.Range(req)
				if err != nil {
					fail("range at %d: %v", rev, err)
					return
				}
				evs, err := s.Events([]byte("k"), []byte("l"), rev-1, rev, 0)
				if err != nil {
					fail("events at %d: %v", rev, err)
					return
				}
				for _, ev := range evs {
					if ev.Kv.ModRevision > rev || ev.Kv.ModRevision < rev-1 {
						fail("event %v outside [%d,%d]", ev, rev-1, rev)
					}
				}
				second, err := s.Range(req)
				if err != nil {
					fail("range again at %d: %v", rev, err)
					return
				}
				if a, b := fmt.Sprint(first.Kvs), fmt.Sprint(second.Kvs); a != b {
					fail("range at %d changed:\n%s\n%s", rev, a, b)
					return
				}
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		k := fmt.Sprintf("k%03d", i%50)
		var req *pb.InternalRaftRequest
		if i%10 == 0 {
			req = delReq(k, "")
		} else {
			req = putReq(k, fmt.Sprint(i))
		}
		if _, err := s.Apply(uint64(i), req); err != nil {
			t.Fatal(err)
		}
		if i%10 != 0 {
			r, err := s.Range(&pb.RangeRequest{Key: []byte(k)})
			if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != fmt.Sprint(i) {
				t.Fatalf("read after apply %d: %v %v", i, r, err)
			}
		}
	}
	close(done)
	wg.Wait()
	notifyMu.Lock()
	defer notifyMu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d failures, first: %s", len(bad), bad[0])
	}
}
