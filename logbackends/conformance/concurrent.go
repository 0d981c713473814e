package conformance

import (
	"math/rand"
	"sync"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
)

// testConcurrentCrash runs only for a backend that implements
// logbackends.ConcurrentSaver: several writers draw indexes from one
// sequence and start their Saves in that order, then wait for them
// concurrently, while crash clones are taken in the middle of syncs and
// after the load. Every clone must hold every entry and HardState of each
// Save that had returned nil before it was taken.
//
// A returned Save's sync covered everything appended before it, so what a
// clone must keep is the highest index and commit any returned Save had.
func testConcurrentCrash(t *testing.T, h *harness) {
	const (
		writers   = 8
		perWriter = 30
		maxPoints = 30
	)
	b := h.open()
	cs, ok := b.(logbackends.ConcurrentSaver)
	if !ok {
		must(t, b.Close())
		t.Skipf("%s does not take concurrent Saves", h.f.Name)
	}
	var (
		ackMu sync.Mutex // guards ack
		ack   acked

		pointsMu sync.Mutex // guards points and rng; the sync hook runs on whichever Save leads a sync
		points   []crashPoint
		rng      = rand.New(rand.NewSource(21))
	)
	keeps := []float64{0, 0.5, 1}
	take := func(where string) {
		// What must survive is read before the clone is taken, so a Save
		// returning in between only makes the check weaker, never wrong.
		ackMu.Lock()
		want := ack
		ackMu.Unlock()
		k := keeps[len(points)%len(keeps)]
		points = append(points, crashPoint{fs: h.fs.CrashClone(rng, k), ack: want, keep: k, where: where})
	}
	h.fs.SetSyncHook(func(name string) {
		pointsMu.Lock()
		defer pointsMu.Unlock()
		if len(points) < maxPoints && rng.Intn(3) == 0 {
			take("in a sync of " + name)
		}
	})

	var orderMu sync.Mutex // draws indexes and starts Saves in index order
	next := uint64(1)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := range perWriter {
				n := uint64(1 + (w+k)%3)
				orderMu.Lock()
				lo := next
				next += n
				wait, err := cs.StartSave(hardState(1, lo-1), ents(lo, lo+n-1, 1), nil, true)
				orderMu.Unlock()
				if err == nil {
					err = wait()
				}
				if err != nil {
					t.Errorf("writer %d: Save of %d..%d: %v", w, lo, lo+n-1, err)
					return
				}
				ackMu.Lock()
				ack.last, ack.commit = max(ack.last, lo+n-1), max(ack.commit, lo-1)
				ackMu.Unlock()
			}
		})
	}
	wg.Wait()
	h.fs.SetSyncHook(nil)
	if t.Failed() {
		b.Close()
		return
	}
	pointsMu.Lock()
	take("after the load")
	pointsMu.Unlock()
	st := b.Stats()
	t.Logf("%d entries in %d Saves took %d syncs", st.EntriesSaved, st.Saves, st.Syncs)
	must(t, b.Close())
	if last := points[len(points)-1].ack.last; last != next-1 {
		t.Fatalf("after the load %d was acknowledged, want %d", last, next-1)
	}
	checkCrashPoints(t, h, points)
}
