package conformance

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
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
	b := h.open()
	if _, ok := b.(logbackends.ConcurrentSaver); !ok {
		must(t, b.Close())
		t.Skipf("%s does not take concurrent Saves", h.f.Name)
	}
	concurrentCampaign(t, h, b, 21, 30*soak(t)).check(t, "crash clones")
}

// ackPoint is a crash clone and what had been acknowledged before it was
// taken, for a load that appends at one term.
type ackPoint struct {
	fs    *vfs.Mem
	ack   acked
	keep  float64
	where string
}

// concurrentCampaign is testConcurrentCrash's load and crash points on the
// open backend b, for the test and its negative control.
func concurrentCampaign(t *testing.T, h *harness, b logbackends.Backend, seed int64, maxPoints int) campaign {
	const (
		writers   = 8
		perWriter = 30
	)
	cs := b.(logbackends.ConcurrentSaver)
	var (
		ackMu sync.Mutex // guards ack
		ack   acked

		pointsMu sync.Mutex // guards points and rng; the sync hook runs on whichever Save leads a sync
		points   []ackPoint
		rng      = rand.New(rand.NewSource(seed))
	)
	keeps := []float64{0, 0.5, 1}
	take := func(where string) {
		// What must survive is read before the clone is taken, so a Save
		// returning in between only makes the check weaker, never wrong.
		ackMu.Lock()
		want := ack
		ackMu.Unlock()
		k := keeps[len(points)%len(keeps)]
		points = append(points, ackPoint{fs: h.fs.CrashClone(rng, k), ack: want, keep: k, where: where})
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
		t.FailNow()
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
	c := campaign{points: len(points), ops: writers * perWriter}
	for k, p := range points {
		if err := h.checkAckPoint(p); err != nil {
			c.fail(fmt.Sprintf("%d (keep %.1f) %s", k, p.keep, p.where), err)
		}
	}
	return c
}

// checkAckPoint reopens the backend on p's clone, checks it holds what was
// acknowledged, and that the recovered log takes new writes.
func (h *harness) checkAckPoint(p ackPoint) error {
	b, _, err := h.openAt(p.fs, nil)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer b.Close()
	if err := ackedErr(b, p.ack); err != nil {
		return err
	}
	li, _ := b.LastIndex()
	if err := b.Save(hardState(2, li), ents(li+1, li+2, 2), nil, true); err != nil {
		return fmt.Errorf("save after recovery: %w", err)
	}
	return nil
}
