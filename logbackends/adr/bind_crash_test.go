package adrlog

import (
	"bytes"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// hookFS is a vfs.Mem that calls hook before every creation, rename and
// directory sync (file syncs reach the hook through vfs.Mem's own sync
// hook), so a test can take crash images between the steps of a
// protocol that writes files.
type hookFS struct {
	*vfs.Mem
	hook func(op string)
}

func (h *hookFS) Create(name string) (vfs.File, error) {
	h.hook("create " + name)
	return h.Mem.Create(name)
}

func (h *hookFS) Rename(oldname, newname string) error {
	h.hook("rename " + oldname)
	return h.Mem.Rename(oldname, newname)
}

func (h *hookFS) SyncDir(dir string) error {
	h.hook("sync dir " + dir)
	return h.Mem.SyncDir(dir)
}

// bindCrash takes crash images while a log goes through every phase of
// the binding protocol: the first open (a fresh region bound), Saves, a
// clean close, an open that rebinds its own ring, a crash with records
// only in the ring, an open that recovers them and rebinds, and an open
// on a region emptied after a clean close, as a reboot empties an
// emulated one. Images are taken before every Flush and Fence of the
// region, and, while the log opens or closes, before every file sync,
// creation, rename and directory sync: the region first, then the disk,
// as conformance's power losses do. Each must reopen without
// --adr-region-reset and hold every acknowledged entry.
type bindCrash struct {
	skip bindStep
	rng  *rand.Rand

	mu       sync.Mutex // guards what follows: hooks run on the drainer too
	mem      *vfs.Mem
	sim      *adr.Sim
	acked    uint64 // entries 1..acked were acknowledged
	images   int
	failures int
	first    string
	phase    string
	// whole is set while the log opens or closes: images are taken at
	// every file operation too, and at every region operation rather
	// than a share of them.
	whole atomic.Bool
}

// image takes crash images now and checks each.
func (c *bindCrash) image(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sim == nil || c.failures > 0 && c.skip != bindNone {
		return
	}
	if !c.whole.Load() && c.rng.Intn(4) != 0 {
		return
	}
	// Two images an instant: only what was made durable, and a random
	// share (or all) of what was not.
	for _, keep := range []float64{0, []float64{0.5, 1}[c.images/2%2]} {
		img := c.sim.Crash(c.rng, keep)
		clone := c.mem.CrashClone(c.rng, keep)
		c.images++
		if err := checkBindImage(clone, img, c.acked); err != nil {
			c.failures++
			if c.first == "" {
				c.first = fmt.Sprintf("%s, before %s, keep %.1f: %v", c.phase, op, keep, err)
			}
		}
	}
}

// checkBindImage reopens a log on crash images of its disk and region
// and checks that entries 1..acked are there.
func checkBindImage(fs *vfs.Mem, img []byte, acked uint64) error {
	sim := adr.SimFrom(img)
	b, err := open(logbackends.Env{Dir: logDir, FS: fs, ClusterID: testCluster, MemberID: memberA},
		Config{SegmentSize: 1 << 20, OpenRegion: func() (adr.Region, error) { return sim, nil }})
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer b.Close()
	last, _ := b.LastIndex()
	if last < acked {
		return fmt.Errorf("last index %d, %d acknowledged", last, acked)
	}
	if acked == 0 {
		return nil
	}
	got, err := b.Entries(1, acked+1, ^uint64(0))
	if err != nil {
		return err
	}
	for k, e := range conformance.Entries(1, acked, 1) {
		if !bytes.Equal(got[k].GetData(), e.GetData()) {
			return fmt.Errorf("entry %d differs", k+1)
		}
	}
	return nil
}

// use makes mem and sim the log's disk and region for what follows, with
// the hooks in place.
func (c *bindCrash) use(mem *vfs.Mem, sim *adr.Sim) *hookFS {
	c.mu.Lock()
	c.mem, c.sim = mem, sim
	c.mu.Unlock()
	mem.SetSyncHook(func(name string) {
		if c.whole.Load() {
			c.image("sync " + name)
		}
	})
	sim.SetHook(func(op adr.SimOp) { c.image(fmt.Sprintf("region op %d (fence %v)", op.N, op.Fence)) })
	return &hookFS{Mem: mem, hook: func(op string) {
		if c.whole.Load() {
			c.image(op)
		}
	}}
}

// open opens the log in a phase of the run. An open that fails fails the
// test when no step is left out; with one left out it is what the run
// was looking for, and the run stops there (nil).
func (c *bindCrash) open(t *testing.T, phase string, fs *hookFS, sim *adr.Sim) *Backend {
	t.Helper()
	c.setPhase(phase)
	c.whole.Store(true)
	defer c.whole.Store(false)
	b, err := open(logbackends.Env{Dir: logDir, FS: fs, ClusterID: testCluster, MemberID: memberA},
		Config{SegmentSize: 1 << 20, skip: c.skip, OpenRegion: func() (adr.Region, error) { return sim, nil }})
	if err != nil && c.skip == bindNone {
		t.Fatalf("%s: %v", phase, err)
	}
	if err != nil {
		c.mu.Lock()
		c.failures++
		if c.first == "" {
			c.first = fmt.Sprintf("%s: %v", phase, err)
		}
		c.mu.Unlock()
		return nil
	}
	return b
}

func (c *bindCrash) close(t *testing.T, phase string, b *Backend) {
	t.Helper()
	c.setPhase(phase)
	c.whole.Store(true)
	defer c.whole.Store(false)
	must(t, b.Close())
}

func (c *bindCrash) setPhase(p string) {
	c.mu.Lock()
	c.phase = p
	c.mu.Unlock()
}

func (c *bindCrash) save(t *testing.T, b *Backend, n uint64) {
	t.Helper()
	c.setPhase("saves")
	for range n {
		c.mu.Lock()
		i := c.acked + 1
		c.mu.Unlock()
		if err := b.Save(conformance.HardState(1, i-1), conformance.Entries(i, i, 1), nil, true); err != nil {
			t.Fatalf("Save(%d): %v", i, err)
		}
		c.mu.Lock()
		c.acked = i
		c.mu.Unlock()
	}
}

// run goes through the phases and returns the checker with its counts.
func runBindCrash(t *testing.T, skip bindStep) *bindCrash {
	c := &bindCrash{skip: skip, rng: rand.New(rand.NewSource(int64(skip) + 5))}
	mem, sim := vfs.NewMem(), adr.NewSim(bindRegionSize)
	fs := c.use(mem, sim)

	b := c.open(t, "first open", fs, sim)
	if b == nil {
		return c
	}
	c.save(t, b, 6)
	c.close(t, "clean close", b)

	sim = adr.SimFrom(sim.Bytes())
	fs = c.use(mem, sim)
	if b = c.open(t, "open after a clean close", fs, sim); b == nil {
		return c
	}
	holdInRing(b)
	c.save(t, b, 6)

	// The process dies with records in the ring only; the next open
	// recovers them and binds a new ring.
	c.mu.Lock()
	rng := rand.New(rand.NewSource(9))
	img, crashed := sim.Crash(rng, 1), mem.CrashClone(rng, 1)
	c.mu.Unlock()
	sim.SetHook(nil)
	mem.SetSyncHook(nil)
	b.Close()
	sim, mem = adr.SimFrom(img), crashed
	fs = c.use(mem, sim)
	if b = c.open(t, "open after a crash", fs, sim); b == nil {
		return c
	}
	c.save(t, b, 6)
	c.close(t, "clean close after the crash", b)

	// A reboot empties the region after the clean close.
	sim = adr.NewSim(bindRegionSize)
	fs = c.use(mem, sim)
	if b = c.open(t, "open on an emptied region", fs, sim); b == nil {
		return c
	}
	c.save(t, b, 6)
	c.close(t, "last clean close", b)
	return c
}

// TestBindingCrash: crashes at every step of binding, rebinding and
// closing a log, and between its Saves, all reopen without a reset and
// keep every acknowledged entry.
func TestBindingCrash(t *testing.T) {
	c := runBindCrash(t, bindNone)
	t.Logf("%d crash images over %d entries: %d failures", c.images, c.acked, c.failures)
	if c.failures > 0 {
		t.Fatalf("%d of %d crash images failed; first: %s", c.failures, c.images, c.first)
	}
}

// TestBindingCrashNeedsEveryStep leaves out one step of the binding
// protocol at a time: the crash test must then find an image that does
// not reopen or loses an entry.
func TestBindingCrashNeedsEveryStep(t *testing.T) {
	tests := []struct {
		name string
		skip bindStep
	}{
		{"sync the new binding record", bindSyncRecord},
		{"sync the directory after the rename", bindSyncDir},
		{"record the binding before formatting", bindRecordBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := runBindCrash(t, tt.skip)
			if c.failures == 0 {
				t.Fatalf("without %q, %d crash images all reopened", tt.name, c.images)
			}
			t.Logf("without %q: %s", tt.name, c.first)
		})
	}
}
