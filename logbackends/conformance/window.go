package conformance

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// window follows what a backend has acknowledged and what its completed
// syncs have covered: a write acknowledged before a file Sync started is
// covered once that Sync returns without error. The test goroutine updates
// the acknowledged state; syncs may run on the backend's own goroutine.
type window struct {
	mu     sync.Mutex
	ack    acked
	synced acked
	syncs  int // completed syncs seen
}

func maxAcked(a, b acked) acked {
	return acked{last: max(a.last, b.last), commit: max(a.commit, b.commit), snapIndex: max(a.snapIndex, b.snapIndex)}
}

func (w *window) acknowledge(f func(a *acked)) {
	w.mu.Lock()
	f(&w.ack)
	w.mu.Unlock()
}

// durable records something the backend promised durable on return
// (CreateSnapshot): it is covered at once.
func (w *window) durable(f func(a *acked)) {
	w.mu.Lock()
	f(&w.ack)
	f(&w.synced)
	w.mu.Unlock()
}

// covered returns what a crash now must keep, and how many syncs completed.
func (w *window) covered() (acked, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.synced, w.syncs
}

func (w *window) beforeSync() acked {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ack
}

func (w *window) afterSync(a acked) {
	w.mu.Lock()
	w.synced = maxAcked(w.synced, a)
	w.syncs++
	w.mu.Unlock()
}

// wrap returns fsys with its files' Syncs reported to w.
func (w *window) wrap(fsys vfs.FS) vfs.FS { return watchFS{FS: fsys, w: w} }

type watchFS struct {
	vfs.FS
	w *window
}

func (f watchFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return watchFile{File: file, w: f.w}, nil
}

func (f watchFS) Open(name string) (vfs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return watchFile{File: file, w: f.w}, nil
}

type watchFile struct {
	vfs.File
	w *window
}

func (f watchFile) Sync() error {
	a := f.w.beforeSync()
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.w.afterSync(a)
	return nil
}

// testWindowCrash drives a write load on a backend that syncs on its own
// schedule and takes crash clones in the middle of its syncs and between
// Saves, each after a new sync completed; every clone must reopen with
// everything acknowledged before the start of the last completed sync.
func testWindowCrash(t *testing.T, h *harness) {
	if h.f.RegionSize > 0 {
		// Its clones would need the region imaged with the disk, which
		// is safe only at the region's flushes and fences: the power-loss
		// case checks the stronger promise there.
		t.Skipf("%s acknowledges from its region: see the power-loss case", h.f.Name)
	}
	const maxPoints = 40
	w := &window{}
	b, err := h.openOn(w.wrap(h.fs))
	if err != nil {
		t.Fatalf("open %s: %v", h.f.Name, err)
	}
	var mu sync.Mutex // guards points and rng: the sync hook runs on the backend's goroutine
	rng := rand.New(rand.NewSource(11))
	var points []crashPoint
	keeps := []float64{0, 0.5, 1}
	takeLocked := func(where string) {
		// What must survive is read before the clone is taken, so a sync
		// completing in between only makes the check weaker, never wrong.
		want, _ := w.covered()
		k := keeps[len(points)%len(keeps)]
		points = append(points, crashPoint{fs: h.fs.CrashClone(rng, k), ack: want, keep: k, where: where})
	}
	full := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(points) >= maxPoints
	}
	h.fs.SetSyncHook(func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if len(points) < maxPoints && rng.Intn(2) == 0 {
			takeLocked("in a sync of " + name)
		}
	})
	load := rand.New(rand.NewSource(12))
	deadline := time.Now().Add(30 * time.Second)
	last, snapIndex, seenSyncs := uint64(0), uint64(0), 0
	for round := 0; !full(); round++ {
		if time.Now().After(deadline) {
			_, syncs := w.covered()
			t.Fatalf("%d syncs completed by the deadline; is the background sync running?", syncs)
		}
		switch {
		case round%400 == 399 && last > snapIndex+10:
			i := last - 2
			if _, err := b.CreateSnapshot(i, &raftpb.ConfState{Voters: []uint64{1}}, nil); err != nil {
				t.Fatalf("CreateSnapshot(%d): %v", i, err)
			}
			w.durable(func(a *acked) { a.snapIndex = i })
			snapIndex = i
			must(t, b.Compact(i-3))
		case round%7 == 6:
			must(t, b.Save(hardState(1, last), nil, nil, false))
			w.acknowledge(func(a *acked) { a.commit = last })
		default:
			n := uint64(1 + load.Intn(6))
			commit := last
			if err := b.Save(hardState(1, commit), ents(last+1, last+n, 1), nil, true); err != nil {
				t.Fatalf("Save: %v", err)
			}
			last += n
			w.acknowledge(func(a *acked) { a.last, a.commit = last, commit })
		}
		if _, syncs := w.covered(); syncs > seenSyncs {
			seenSyncs = syncs
			mu.Lock()
			if len(points) < maxPoints {
				takeLocked(fmt.Sprintf("after round %d", round))
			}
			mu.Unlock()
		}
	}
	h.fs.SetSyncHook(nil)
	must(t, b.Close())
	if covered := points[len(points)-1].ack; covered.last == 0 {
		t.Fatalf("no entry was ever covered by a sync: %+v", covered)
	}
	checkCrashPoints(t, h, points)
}
