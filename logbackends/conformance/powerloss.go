package conformance

import (
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// powerLossPoints is how many power losses the case simulates. Each is
// checked at once (reopen on the images, compare, save) and dropped, so
// the count costs time, not memory.
const powerLossPoints = 2000

// testPowerLoss runs for a backend with a region (Factory.RegionSize): a
// write load like testCrash's (appends with HardStates, commit-only
// HardStates without sync, snapshots and compactions) while, before a
// random share of the region's Flush and Fence calls take effect, a power
// loss is simulated: the region's image first, then the disk's crash
// clone, so the disk is never older than the ring's HEAD in the image (the
// ring gives space back only after the disk has it synced). A backend
// reopened on the two must hold every entry and HardState acknowledged
// before the images were taken. The hook runs on whichever goroutine
// publishes or releases ring space, with the ring's lock held, so the
// region is not being stored into while it is imaged.
func testPowerLoss(t *testing.T, h *harness) {
	if h.f.RegionSize <= 0 {
		t.Skipf("%s keeps no persistent-memory region", h.f.Name)
	}
	b := h.open()
	if _, ok := b.Stats().Counter(h.f.RingFullWaits); !ok {
		t.Fatalf("%s reports no Stats counter %q of Saves that waited for ring space (Factory.RingFullWaits)", h.f.Name, h.f.RingFullWaits)
	}
	fullWaits := func(st logbackends.Stats) uint64 {
		n, _ := st.Counter(h.f.RingFullWaits)
		return n
	}
	sim := h.sim
	var (
		ackMu sync.Mutex // guards ack: the hook may run on the backend's drainer
		ack   acked

		mu       sync.Mutex // guards what follows
		rng      = rand.New(rand.NewSource(31))
		points   int
		failures int
		first    string
	)
	keeps := []float64{0, 0.5, 1}
	full := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return points >= powerLossPoints || failures > 0
	}
	// stalled: the drainer is held in a sync (below) until the ring fills;
	// no power losses are taken meanwhile, so it fills fast.
	var stalled atomic.Bool
	sim.SetHook(func(op adr.SimOp) {
		if stalled.Load() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if points >= powerLossPoints || failures > 0 || rng.Intn(8) != 0 {
			return
		}
		ackMu.Lock()
		want := ack
		ackMu.Unlock()
		keep := keeps[points%len(keeps)]
		img := sim.Crash(rng, keep)
		fs := h.fs.CrashClone(rng, keep)
		points++
		if err := h.checkPowerLoss(fs, img, want); err != nil {
			failures++
			first = fmt.Sprintf("power loss %d (region op %d, fence %v, keep %.1f): %v", points, op.N, op.Fence, keep, err)
		}
	})
	// Now and then the drainer's disk sync stalls until a Save finds the
	// ring full (or a snapshot needs the drainer), so that appends land
	// in space released a moment before: that is where a HEAD not yet
	// persistent would let recovery scan overwritten records.
	var snapshotting atomic.Bool
	syncs := 0
	h.fs.SetSyncHook(func(string) {
		syncs++ // only the drainer syncs while the load runs
		if syncs%64 != 0 || full() {
			return
		}
		// The stall ends when a Save starts waiting for ring space, or
		// when Saves stop arriving for a while (one was waiting already,
		// or the load is in a snapshot, which waits for the drainer).
		st := b.Stats()
		stalled.Store(true)
		defer stalled.Store(false)
		for idle := 0; idle < 100; idle++ {
			now := b.Stats()
			if fullWaits(now) > fullWaits(st) || snapshotting.Load() || full() {
				return
			}
			if now.Saves != st.Saves {
				st.Saves, idle = now.Saves, 0
			}
			time.Sleep(20 * time.Microsecond)
		}
	})
	load := rand.New(rand.NewSource(32))
	last := uint64(0)
	for round := 0; !full(); round++ {
		if round > 200_000 {
			t.Fatalf("only %d power losses after %d rounds: does the backend publish to its region?", points, round)
		}
		switch {
		case round%500 == 499 && ack.commit > ack.snapIndex+5:
			i := ack.commit - 2
			snapshotting.Store(true)
			if _, err := b.CreateSnapshot(i, &raftpb.ConfState{Voters: []uint64{1}}, nil); err != nil {
				t.Fatalf("CreateSnapshot(%d): %v", i, err)
			}
			ackMu.Lock()
			ack.snapIndex = i
			ackMu.Unlock()
			must(t, b.Compact(i-3))
			snapshotting.Store(false)
		case round%7 == 6:
			must(t, b.Save(hardState(1, last), nil, nil, false))
		default:
			n := uint64(1 + load.Intn(6))
			commit := last
			if err := b.Save(hardState(1, commit), ents(last+1, last+n, 1), nil, true); err != nil {
				t.Fatalf("Save: %v", err)
			}
			last += n
			ackMu.Lock()
			ack.last, ack.commit = last, commit
			ackMu.Unlock()
		}
	}
	sim.SetHook(nil)
	h.fs.SetSyncHook(nil)
	st := b.Stats()
	must(t, b.Close())
	t.Logf("%d power losses over %d entries (counters: %v)", points, last, st.Counters)
	if failures > 0 {
		t.Fatalf("%d of %d power losses lost acknowledged writes; first: %s", failures, points, first)
	}
}

// checkPowerLoss reopens the backend on a crash image of the region and
// of the disk, checks it against want, and saves on it.
func (h *harness) checkPowerLoss(fs *vfs.Mem, img []byte, want acked) error {
	b, err := h.openAt(fs, img, false)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer b.Close()
	if err := ackedErr(b, want); err != nil {
		return err
	}
	li, _ := b.LastIndex()
	if err := b.Save(hardState(2, li), ents(li+1, li+2, 2), nil, true); err != nil {
		return fmt.Errorf("save after recovery: %w", err)
	}
	return nil
}
