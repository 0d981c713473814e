package adrlog

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

func TestOverlay(t *testing.T) {
	rec := func(hsCommit uint64, lo, hi, term uint64) savedRecord {
		r := savedRecord{}
		if hsCommit > 0 {
			r.hs = conformance.HardState(term, hsCommit)
		}
		if hi >= lo {
			r.ents = conformance.Entries(lo, hi, term)
		}
		return r
	}
	type want struct {
		lo     uint64
		terms  []uint64 // of the overlay's entries from lo on
		commit uint64
	}
	tests := []struct {
		name string
		recs []savedRecord
		want want
	}{
		{"none", nil, want{}},
		{"hard state only", []savedRecord{rec(4, 1, 0, 1)}, want{commit: 4}},
		{"appends", []savedRecord{rec(1, 1, 3, 1), rec(3, 4, 5, 1)}, want{1, []uint64{1, 1, 1, 1, 1}, 3}},
		// Replaying 11..20 on a disk that already has the overwrite
		// 5..6 would leave a gap; the overlay takes 5..6 from the later
		// record and nothing of 11..20.
		{"overwrite shorter", []savedRecord{rec(2, 11, 20, 1), rec(0, 5, 6, 2)}, want{5, []uint64{2, 2}, 2}},
		{"overwrite then extend", []savedRecord{rec(0, 1, 5, 1), rec(0, 4, 4, 2), rec(7, 5, 6, 2)},
			want{1, []uint64{1, 1, 1, 2, 2, 2}, 7}},
		{"later record starts lower", []savedRecord{rec(0, 8, 9, 1), rec(0, 3, 10, 3)}, want{3, slices.Repeat([]uint64{3}, 8), 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := overlayOf(tt.recs)
			if err != nil {
				t.Fatal(err)
			}
			var terms []uint64
			for k, e := range o.ents {
				if e.GetIndex() != o.lo+uint64(k) {
					t.Fatalf("entry %d has index %d", k, e.GetIndex())
				}
				terms = append(terms, e.GetTerm())
			}
			if o.lo != tt.want.lo || !slices.Equal(terms, tt.want.terms) || o.hs.GetCommit() != tt.want.commit {
				t.Fatalf("overlay from %d terms %v commit %d, want from %d terms %v commit %d",
					o.lo, terms, o.hs.GetCommit(), tt.want.lo, tt.want.terms, tt.want.commit)
			}
		})
	}
	if _, err := overlayOf([]savedRecord{rec(0, 1, 2, 1), rec(0, 5, 6, 1)}); !errors.Is(err, logbackends.ErrCorrupt) {
		t.Fatalf("records with a hole: %v", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hs   *raftpb.HardState
		ents []*raftpb.Entry
	}{
		{"empty", nil, nil},
		{"hard state", conformance.HardState(3, 9), nil},
		{"entries", nil, conformance.Entries(5, 9, 2)},
		{"both", conformance.HardState(2, 7), conformance.Entries(1, 3, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Backend
			p, err := encodeSave(nil, b.mo, tt.hs, tt.ents)
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeSave(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.hs.GetCommit() != tt.hs.GetCommit() || len(r.ents) != len(tt.ents) {
				t.Fatalf("decoded %v, %d entries", r.hs, len(r.ents))
			}
			for k := range r.ents {
				if !bytes.Equal(r.ents[k].GetData(), tt.ents[k].GetData()) || r.ents[k].GetIndex() != tt.ents[k].GetIndex() {
					t.Fatalf("entry %d decoded as %v", k, r.ents[k])
				}
			}
			if _, err := decodeSave(p[:len(p)-1]); len(p) > 8 && err == nil {
				t.Fatal("a truncated record decoded")
			}
		})
	}
}

// openSim opens the backend on fsys and a simulated region of size.
func openSim(t *testing.T, fsys vfs.FS, sim *adr.Sim) *Backend {
	t.Helper()
	cfg := Config{SegmentSize: 1 << 20, OpenRegion: func() (adr.Region, error) { return sim, nil }}
	b, err := open(logbackends.Env{Dir: "/log", FS: fsys}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFullRingWaits blocks the drainer in a disk sync: Saves fill the
// ring, the next one waits (counted) instead of failing, and returns once
// the sync completes and the drainer releases space.
func TestFullRingWaits(t *testing.T) {
	fs := vfs.NewMem()
	b := openSim(t, fs, adr.NewSim(ringDataOffForTest+2048))
	defer b.Close()
	block := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	fs.SetSyncHook(func(string) {
		once.Do(func() { close(entered) })
		<-block
	})
	next := uint64(1)
	save := func() error {
		err := b.Save(conformance.HardState(1, next-1), conformance.Entries(next, next, 1), nil, true)
		next++
		return err
	}
	if err := save(); err != nil {
		t.Fatal(err)
	}
	<-entered // the drainer is stuck syncing entry 1
	done := make(chan error)
	go func() {
		for k := 0; k < 100; k++ {
			if err := save(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counter(b.Stats(), CounterRingFullWaits) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no Save waited for ring space")
		}
		time.Sleep(time.Millisecond) // polling a counter, not waiting for an outcome
	}
	fs.SetSyncHook(nil)
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if li, _ := b.LastIndex(); li != 101 {
		t.Fatalf("last index %d, want 101", li)
	}
	st := b.Stats()
	if st.EntriesSaved != 101 || counter(st, CounterRingFullWaits) == 0 || counter(st, CounterDiskSyncs) == 0 || counter(st, CounterDrainedBytes) == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFullRingTimeout blocks the drainer in a disk sync for good: a Save
// that finds the ring full waits, is logged as slow once it has waited
// half the timeout, and fails with ErrRingFullTimeout when the timeout
// passes, naming the flag that sets it.
func TestFullRingTimeout(t *testing.T) {
	fs := vfs.NewMem()
	var logged lockedBuffer
	sim := adr.NewSim(ringDataOffForTest + 2048)
	b, err := open(logbackends.Env{Dir: "/log", FS: fs, Logger: slog.New(slog.NewTextHandler(&logged, nil))},
		Config{SegmentSize: 1 << 20, RingFullTimeout: 300 * time.Millisecond, OpenRegion: func() (adr.Region, error) { return sim, nil }})
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	fs.SetSyncHook(func(string) { <-block })
	var saveErr error
	for i := uint64(1); saveErr == nil && i < 1000; i++ {
		saveErr = b.Save(conformance.HardState(1, i-1), conformance.Entries(i, i, 1), nil, true)
	}
	if !errors.Is(saveErr, ErrRingFullTimeout) || !errors.Is(saveErr, adr.ErrRingFull) || !strings.Contains(saveErr.Error(), "waited 300ms (--adr-ring-full-timeout)") {
		t.Fatalf("Save on a ring that stays full: %v, want ErrRingFullTimeout naming --adr-ring-full-timeout", saveErr)
	}
	st := b.Stats()
	if counter(st, CounterRingFullWaits) != 1 || counter(st, CounterRingFullSlowWaits) != 1 {
		t.Fatalf("counters %v: want one wait, one slow", st.Counters)
	}
	if !strings.Contains(logged.String(), "a Save has waited 150ms for space in region") {
		t.Fatalf("logged %q", logged.String())
	}
	fs.SetSyncHook(nil)
	close(block)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is written by a backend's logger from its own goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ringDataOffForTest is the ring's header area; regions in these tests
// are that plus a small data area.
const ringDataOffForTest = 4 * adr.LineSize

// TestDirectSaves: a record larger than the ring takes, and a snapshot
// install, go to disk directly; both survive a power loss that loses
// whatever the region did not fence.
func TestDirectSaves(t *testing.T) {
	fs := vfs.NewMem()
	sim := adr.NewSim(ringDataOffForTest + 2048)
	b := openSim(t, fs, sim)
	big := conformance.Entries(1, 40, 1) // far more than half of 2 KiB
	if err := b.Save(conformance.HardState(1, 0), big, nil, true); err != nil {
		t.Fatal(err)
	}
	snap := &raftpb.Snapshot{Data: []byte("from leader"), Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(50)), Term: new(uint64(2)),
		ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}
	if err := b.Save(conformance.HardState(2, 50), conformance.Entries(51, 51, 2), snap, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(conformance.HardState(2, 51), conformance.Entries(52, 52, 2), nil, true); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	img := sim.Crash(rng, 0)
	clone := fs.CrashClone(rng, 0)
	if st := b.Stats(); st.Syncs != 1 {
		t.Fatalf("%d publishes to the region, want 1 (the others went to disk)", st.Syncs)
	}
	b.Close()
	b2 := openSim(t, clone, adr.SimFrom(img))
	defer b2.Close()
	if fi, _ := b2.FirstIndex(); fi != 51 {
		t.Fatalf("first index %d after the install, want 51", fi)
	}
	if li, _ := b2.LastIndex(); li != 52 {
		t.Fatalf("last index %d, want 52", li)
	}
	if hs, _, _ := b2.InitialState(); hs.GetCommit() != 51 {
		t.Fatalf("hard state %v", hs)
	}
}

// TestEmulatedRegion opens the backend the way the store does, on an
// emulated region file, and checks Stats says so.
func TestEmulatedRegion(t *testing.T) {
	dir := t.TempDir()
	env := logbackends.Env{Dir: filepath.Join(dir, "wal")}
	cfg := DefaultConfig()
	cfg.Region = adr.RegionConfig{Kind: adr.KindEmulated, Path: filepath.Join(dir, "region"), Size: 1 << 20}
	b, err := Open(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(conformance.HardState(1, 0), conformance.Entries(1, 3, 1), nil, true); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	flush := st.Fact(logbackends.FactFlushInstruction)
	if !slices.Contains(st.Emulated, "adr-region:emulated") || flush == "" || st.Fact(FactRegionKind) != adr.KindEmulated {
		t.Fatalf("stats say emulated %v, flush %q, facts %v", st.Emulated, flush, st.Facts)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if li, _ := b.LastIndex(); li != 3 {
		t.Fatalf("last index %d after reopen", li)
	}
	cfg.Region.Size = 2 << 20
	if _, err := Open(env, cfg); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("a second open of a region in use, or of another size: %v", err)
	}
}

// TestDrainGathersSaves: published Saves stay queued in the ring until a
// quarter of it is queued, the oldest has waited the drain delay, or
// something needs the ring empty; then they all go to disk with one sync.
func TestDrainGathersSaves(t *testing.T) {
	b := openSim(t, vfs.NewMem(), adr.NewSim(ringDataOffForTest+64<<10))
	defer b.Close()
	policy := func(delay time.Duration, threshold int) {
		b.d.mu.Lock()
		b.d.delay, b.d.threshold = delay, threshold
		b.d.mu.Unlock()
	}
	next := uint64(1)
	save := func() {
		t.Helper()
		if err := b.Save(conformance.HardState(1, next), conformance.Entries(next, next, 1), nil, true); err != nil {
			t.Fatal(err)
		}
		next++
	}
	drained := func() uint64 { return b.d.drained.Load() }
	waitSyncs := func(want uint64, why string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for counter(b.Stats(), CounterDiskSyncs) < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d disk syncs, want %d", why, counter(b.Stats(), CounterDiskSyncs), want)
			}
			time.Sleep(time.Millisecond) // polling a counter, not waiting for an outcome
		}
	}

	policy(time.Hour, 1<<30)
	syncs := counter(b.Stats(), CounterDiskSyncs)
	for range 20 {
		save()
	}
	// Nothing is due. The pause gives a drainer that ignores the policy
	// the chance to show it.
	time.Sleep(20 * time.Millisecond)
	if n := counter(b.Stats(), CounterDiskSyncs); n != syncs || drained() != 0 {
		t.Fatalf("before anything was due: %d disk syncs (want %d), disk log ends at %d (want 0)", n, syncs, drained())
	}
	b.mu.Lock()
	err := b.d.quiesce()
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if n := counter(b.Stats(), CounterDiskSyncs); n != syncs+1 || drained() != 20 {
		t.Fatalf("after quiesce: %d disk syncs (want %d), disk log ends at %d (want 20)", n, syncs+1, drained())
	}

	policy(time.Hour, 1) // every record reaches the size threshold
	save()
	waitSyncs(syncs+2, "a Save reaching the size threshold")

	policy(time.Millisecond, 1<<30) // only the delay triggers
	save()
	waitSyncs(syncs+3, "a Save older than the delay")
	if li := drained(); li != 22 {
		t.Fatalf("disk log ends at %d, want 22", li)
	}
}

// counter reads one of the backend's own counters, which it always reports.
func counter(st logbackends.Stats, name string) uint64 {
	n, ok := st.Counter(name)
	if !ok {
		panic("adr Stats without counter " + name)
	}
	return n
}
