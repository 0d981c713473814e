package conformance

import (
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
)

// powerLossPoints is how many power losses the case simulates (times the
// soak factor). Each is checked at once (reopen on the images, compare,
// write on) and dropped, so the count costs time, not memory.
const powerLossPoints = 1000

// testPowerLoss runs for a backend with a region (Factory.RegionSize):
// the load (term bumps, votes, overwrites, snapshot installs, snapshots and
// compactions) while power losses are simulated at random instants of two
// kinds:
//
//   - before one of the region's Flush and Fence calls takes effect: the
//     hook runs on whichever goroutine publishes or releases ring space,
//     with the ring's lock held, so nothing stores into the region then;
//     the region is imaged (what was fenced, and a random share of what
//     was flushed or only stored) while the file system is held still, so
//     the disk's clone belongs to the same instant;
//   - at the start of a disk sync (the drainer's, or a direct save's):
//     the region is imaged from what Flush and Fence have reached alone,
//     which needs no quiet region, again with the file system held still.
//
// A backend reopened on the two images must hold the state acknowledged
// by then, or a later prefix of the writes, and keep working.
func testPowerLoss(t *testing.T, h *harness) {
	if h.f.RegionSize <= 0 {
		t.Skipf("%s keeps no persistent-memory region", h.f.Name)
	}
	c := powerLossCampaign(t, h, 31, powerLossPoints*soak(t))
	c.check(t, "power losses")
	if c.ringFullWaits == 0 {
		t.Fatalf("no Save found the ring full: appends never landed in space released a moment before")
	}
	t.Logf("%d Saves waited for ring space", c.ringFullWaits)
}

// powerLossCampaign is testPowerLoss's load and power losses, for the test
// and its negative control. It stops at the first failure.
func powerLossCampaign(t *testing.T, h *harness, seed int64, maxPoints int) campaign {
	b := h.open()
	if _, ok := b.Stats().Counter(h.f.RingFullWaits); !ok {
		t.Fatalf("%s reports no Stats counter %q of Saves that waited for ring space (Factory.RingFullWaits)", h.f.Name, h.f.RingFullWaits)
	}
	fullWaits := func(st logbackends.Stats) uint64 {
		n, _ := st.Counter(h.f.RingFullWaits)
		return n
	}
	sim := h.sim
	hist := newHistory()
	var (
		mu  sync.Mutex // guards c and rng: the hooks run on the writer and the drainer
		c   campaign
		rng = rand.New(rand.NewSource(seed))
	)
	keeps := []float64{0, 0.5, 1}
	full := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return c.points >= maxPoints || c.failures > 0
	}
	// lose simulates a power loss now and checks what it leaves; region
	// images the region while the file system is held still.
	lose := func(where string, region func(rng *rand.Rand, keep float64) []byte) {
		mu.Lock()
		defer mu.Unlock()
		if c.points >= maxPoints || c.failures > 0 {
			return
		}
		floor, pending := hist.point()
		keep := keeps[c.points%len(keeps)]
		p := &crashPoint{floor: floor, pending: pending, keep: keep, where: where}
		p.fs = h.fs.CrashCloneWith(rng, keep, func() { p.img = region(rng, keep) })
		c.points++
		if err := h.checkPoint(p, c.points%8 == 0); err != nil {
			c.fail(fmt.Sprintf("%d (%s, keep %.1f)", c.points, where, keep), err)
		}
	}
	// stalled: the drainer is held in a sync (below) until the ring fills;
	// no power losses are taken meanwhile, so it fills fast.
	var stalled atomic.Bool
	sim.SetHook(func(op adr.SimOp) {
		if stalled.Load() {
			return
		}
		mu.Lock()
		now := rng.Intn(8) == 0
		mu.Unlock()
		if now {
			lose(fmt.Sprintf("region op %d, fence %v", op.N, op.Fence), sim.Crash)
		}
	})
	// Now and then the drainer's disk sync stalls until a Save finds the
	// ring full, so that appends land in space released a moment before:
	// that is where a HEAD not yet persistent would let recovery scan
	// overwritten records. Only a sync made while the load publishes plain
	// Saves stalls, and the load makes only plain Saves while it lasts: one
	// that waits for the drainer (a snapshot, a compaction, an install)
	// would only stall the load.
	var syncs atomic.Int64
	var stallDue atomic.Bool
	publishing := func() bool {
		hist.mu.Lock()
		defer hist.mu.Unlock()
		if hist.returned == len(hist.ops) {
			return true
		}
		o := hist.ops[len(hist.ops)-1]
		return o.kind == opSave && o.snapIndex == 0
	}
	h.fs.SetSyncHook(func(name string) {
		n := syncs.Add(1)
		if n%5 == 0 {
			lose("disk sync of "+name, sim.CrashFenced)
		}
		if n%64 == 0 {
			stallDue.Store(true)
		}
		if !stallDue.Load() || full() || !publishing() {
			return
		}
		stallDue.Store(false)
		// The stall ends when a Save starts waiting for ring space, or
		// when Saves stop arriving for a while (the load went on to
		// something that waits for the drainer).
		st := b.Stats()
		stalled.Store(true)
		defer stalled.Store(false)
		for idle := 0; idle < 100; idle++ {
			now := b.Stats()
			if fullWaits(now) > fullWaits(st) || full() {
				return
			}
			if now.Saves != st.Saves {
				st.Saves, idle = now.Saves, 0
			}
			time.Sleep(20 * time.Microsecond)
		}
	})
	l := newLoad(b, hist, seed+1, crashSafe)
	// Let the ring fill between the drains that snapshots and installs
	// force.
	l.snapshotEvery, l.installOdds = 400, 300
	l.plainOnly = stalled.Load
	round := 0
	for ; !full(); round++ {
		if round > 400*maxPoints {
			t.Fatalf("only %d power losses after %d rounds: does the backend publish to its region?", c.points, round)
		}
		if err := l.step(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	sim.SetHook(nil)
	h.fs.SetSyncHook(nil)
	st := b.Stats()
	must(t, b.Close())
	mu.Lock()
	defer mu.Unlock()
	c.ops = round
	c.ringFullWaits = fullWaits(st)
	return c
}
