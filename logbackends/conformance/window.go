package conformance

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

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
	// hist, when set, is the load's history: the operations returned
	// before a sync started are acknowledged once it returns.
	hist *history
}

func maxAcked(a, b acked) acked {
	return acked{last: max(a.last, b.last), commit: max(a.commit, b.commit), snapIndex: max(a.snapIndex, b.snapIndex)}
}

func (w *window) acknowledge(f func(a *acked)) {
	w.mu.Lock()
	f(&w.ack)
	w.mu.Unlock()
}

// covered returns what a crash now must keep, and how many syncs completed.
func (w *window) covered() (acked, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.synced, w.syncs
}

// syncStart is what a sync starting now will cover once it returns.
type syncStart struct {
	ack acked
	ops int
}

func (w *window) beforeSync() syncStart {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := syncStart{ack: w.ack}
	if w.hist != nil {
		s.ops = w.hist.returnedOps()
	}
	return s
}

func (w *window) afterSync(s syncStart) {
	w.mu.Lock()
	w.synced = maxAcked(w.synced, s.ack)
	w.syncs++
	if w.hist != nil {
		w.hist.ack(s.ops)
	}
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

// DataEnd forwards the file's own, so recovery reads what a crash left as
// it does without the watch.
func (f watchFile) DataEnd() (int64, error) { return vfs.DataEnd(f.File) }

func (f watchFile) Sync() error {
	s := f.w.beforeSync()
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.w.afterSync(s)
	return nil
}

// testWindowCrash drives the load on a backend that syncs on its own
// schedule and takes crash clones in the middle of its syncs and between
// operations, each after a new sync completed: every clone must reopen
// with what was acknowledged before the start of the last completed sync,
// or a later prefix of the writes.
func testWindowCrash(t *testing.T, h *harness) {
	if h.f.RegionSize > 0 {
		// Its clones would need the region imaged with the disk, which
		// is safe only at the region's flushes and fences: the power-loss
		// case checks the stronger promise there.
		t.Skipf("%s acknowledges from its region: see the power-loss case", h.f.Name)
	}
	windowCampaign(t, h, 11, 40*soak(t)).check(t, "crash clones")
}

// windowCampaign is testWindowCrash's load and crash points, for the test
// and its negative control: at least loadRounds operations (times the soak
// factor) and a uniform sample of maxPoints crash clones out of the
// instants offered (half the syncs, and the gaps between operations after
// which a new sync had completed).
func windowCampaign(t *testing.T, h *harness, seed int64, maxPoints int) campaign {
	hist := newHistory()
	w := &window{hist: hist}
	b, err := h.openOn(w.wrap(h.fs))
	if err != nil {
		t.Fatalf("open %s: %v", h.f.Name, err)
	}
	var mu sync.Mutex // guards sample and rng: the sync hook runs on the backend's goroutine
	rng := rand.New(rand.NewSource(seed))
	sample := &sampler{rng: rng, n: maxPoints}
	offerLocked := func(where string) {
		sample.offer(func(keep float64) *crashPoint {
			// What must survive is read before the clone is taken, so a
			// sync completing in between only makes the check weaker,
			// never wrong.
			floor, pending := hist.point()
			return &crashPoint{fs: h.fs.CrashClone(rng, keep), floor: floor, pending: pending, keep: keep, where: where}
		})
	}
	offered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return sample.seen
	}
	h.fs.SetSyncHook(func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if rng.Intn(2) == 0 {
			offerLocked("in a sync of " + name)
		}
	})
	l := newLoad(b, hist, seed+1, snapshotsOnly)
	rounds := loadRounds * maxPoints / 40
	var deadline time.Time // for the offers still missing once the rounds are done
	seenSyncs, round := 0, 0
	for ; round < rounds || offered() < 2*maxPoints; round++ {
		if round == rounds {
			deadline = time.Now().Add(30 * time.Second)
		}
		if round > rounds && time.Now().After(deadline) {
			_, syncs := w.covered()
			t.Fatalf("%d crash points offered by %d syncs in 30 s after %d rounds; is the background sync running?", offered(), syncs, rounds)
		}
		if err := l.step(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, syncs := w.covered(); syncs > seenSyncs {
			seenSyncs = syncs
			mu.Lock()
			offerLocked(fmt.Sprintf("after round %d", round))
			mu.Unlock()
		}
	}
	h.fs.SetSyncHook(nil)
	must(t, b.Close())
	if floor, _ := hist.point(); floor.last() < 10 {
		t.Fatalf("syncs covered only entries up to %d", floor.last())
	}
	return h.checkPoints(sample.points, round)
}
