package conformance

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/segment"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// campaign is the outcome of a crash test's load: how many crash points
// it took and how many of them failed to hold what they had to.
type campaign struct {
	points, failures int
	first            string // the first failure
	ops              int
	ringFullWaits    uint64 // for a backend with a region
}

func (c *campaign) fail(where string, err error) {
	c.failures++
	if c.first == "" {
		c.first = fmt.Sprintf("crash %s: %v", where, err)
	}
}

// check fails t when the campaign found a crash point that lost what it
// had to keep.
func (c campaign) check(t *testing.T, what string) {
	t.Helper()
	t.Logf("%d %s over %d operations", c.points, what, c.ops)
	if c.failures > 0 {
		t.Fatalf("%d of %d %s lost acknowledged writes or did not recover; first: %s", c.failures, c.points, what, c.first)
	}
}

// testCrash runs the load (term bumps, votes, overwrites, snapshot
// installs, snapshots and compactions over small segments) and takes
// crash clones at random syncs and between operations; every clone must
// reopen with the acknowledged state or a later prefix of the writes,
// and keep working.
func testCrash(t *testing.T, h *harness) {
	if h.f.RegionSize > 0 {
		// Its Saves are acknowledged from the region, whose image can be
		// taken only at the region's own flushes and fences (another
		// goroutine may be storing into it at a disk sync): that is the
		// power-loss case, which runs this load.
		t.Skipf("%s acknowledges from its region: see the power-loss case", h.f.Name)
	}
	crashCampaign(t, h, 7, 40*soak(t)).check(t, "crash clones")
}

// crashCampaign is testCrash's load and crash points, for the test and its
// negative control: loadRounds operations (times the soak factor), and a
// uniform sample of maxPoints crash clones out of the instants offered (a
// quarter of the syncs, a fifth of the gaps between operations).
func crashCampaign(t *testing.T, h *harness, seed int64, maxPoints int) campaign {
	rng := rand.New(rand.NewSource(seed))
	b := h.open()
	hist := newHistory()
	l := newLoad(b, hist, seed+1, crashSafe)
	sample := &sampler{rng: rng, n: maxPoints}
	offer := func(where string) {
		sample.offer(func(keep float64) *crashPoint {
			floor, pending := hist.point()
			return &crashPoint{fs: h.fs.CrashClone(rng, keep), floor: floor, pending: pending, keep: keep, where: where}
		})
	}
	h.fs.SetSyncHook(func(name string) {
		if rng.Intn(4) == 0 {
			offer("in a sync of " + name)
		}
	})
	rounds := loadRounds * maxPoints / 40
	for round := 0; round < rounds; round++ {
		if err := l.step(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if rng.Intn(5) == 0 {
			offer(fmt.Sprintf("after round %d", round))
		}
	}
	h.fs.SetSyncHook(nil)
	must(t, b.Close())
	if len(sample.points) < maxPoints {
		t.Fatalf("only %d crash points offered in %d rounds", sample.seen, rounds)
	}
	return h.checkPoints(sample.points, rounds)
}

// loadRounds is how many operations a crash-clone campaign of 40 points
// makes.
const loadRounds = 400

// sampler keeps a uniform sample of up to n crash points out of all the
// instants offered, so that the points spread over the whole load; the
// share of unsynced writes a point keeps goes round 0, 0.5, 1.
type sampler struct {
	rng    *rand.Rand
	n      int
	seen   int
	points []*crashPoint
}

func (s *sampler) offer(take func(keep float64) *crashPoint) {
	keep := []float64{0, 0.5, 1}[s.seen%3]
	s.seen++
	if len(s.points) < s.n {
		s.points = append(s.points, take(keep))
	} else if j := s.rng.Intn(s.seen); j < s.n {
		s.points[j] = take(keep)
	}
}

// checkPoints checks every point of a campaign of ops operations.
func (h *harness) checkPoints(points []*crashPoint, ops int) campaign {
	c := campaign{points: len(points), ops: ops}
	for k, p := range points {
		// Every third point also carries on after recovery, which is
		// where a recovery that left the log subtly wrong shows.
		if err := h.checkPoint(p, k%3 == 0); err != nil {
			c.fail(fmt.Sprintf("%d (keep %.1f) %s", k, p.keep, p.where), err)
		}
	}
	return c
}

// checkPoint reopens the backend on what crash point p left and checks it
// holds what it must; with carryOn it also writes on, reopens and checks
// again.
func (h *harness) checkPoint(p *crashPoint, carryOn bool) error {
	b, sim, err := h.openAt(p.fs, p.img)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	o, err := observe(b)
	if err == nil {
		err = p.matches(o)
	}
	if err == nil && carryOn {
		return h.carryOn(b, sim, p.fs, o)
	}
	if cerr := b.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close after recovery: %w", cerr)
	}
	return err
}

// carryOn writes on a recovered backend b whose state is o, as a restarted
// follower does before its HardState changes: a few appends without one,
// then a snapshot and a compaction of everything it recovered; it closes,
// reopens and checks the log is exactly what that makes, then saves a new
// term with appends over more than a segment and checks again. Recovery
// must leave a log that stays whole once the segments it recovered from are
// gone.
func (h *harness) carryOn(b logbackends.Backend, sim *adr.Sim, fsys vfs.FS, o observed) error {
	s := o.logState.clone()
	do := func(o op) error {
		s.applyOp(o)
		switch o.kind {
		case opCreateSnapshot:
			_, err := b.CreateSnapshot(o.at, confState(), nil)
			return err
		case opCompact:
			return b.Compact(o.at)
		}
		var hs *raftpb.HardState
		if o.hasHS {
			hs = &raftpb.HardState{Term: new(o.term), Vote: new(o.vote), Commit: new(o.commit)}
		}
		var es []*raftpb.Entry
		if o.lo > 0 {
			es = ents(o.lo, o.hi, o.entTerm)
		}
		return b.Save(hs, es, nil, true)
	}
	reopen := func(what string) error {
		if err := b.Close(); err != nil {
			return fmt.Errorf("close after %s: %w", what, err)
		}
		var img []byte
		if sim != nil {
			img = sim.Bytes()
		}
		nb, nsim, err := h.openAt(fsys, img)
		if err != nil {
			b = nil
			return fmt.Errorf("reopen after %s: %w", what, err)
		}
		b, sim = nb, nsim
		got, err := observe(b)
		if err != nil {
			return err
		}
		if d := got.diff(s); d != "" {
			return fmt.Errorf("after %s: %s", what, d)
		}
		return nil
	}
	recovered := s.last()
	var err error
	if !s.hasHS {
		err = do(op{hasHS: true, term: 1, vote: 1})
	}
	term := s.term
	if len(s.terms) > 0 {
		term = max(term, s.terms[len(s.terms)-1])
	}
	for k := 0; k < 3 && err == nil; k++ {
		err = do(op{lo: s.last() + 1, hi: s.last() + 2, entTerm: term})
	}
	at := recovered
	if at <= s.snap || at < s.first {
		at = s.last()
	}
	if err == nil {
		err = do(op{kind: opCreateSnapshot, at: at})
	}
	if err == nil {
		err = do(op{kind: opCompact, at: at})
	}
	if err == nil {
		err = reopen("a compaction of what was recovered")
	}
	for k := 0; k < 6 && err == nil; k++ {
		err = do(op{hasHS: k == 0, term: s.term + 1, vote: 2, commit: s.commit, lo: s.last() + 1, hi: s.last() + 10, entTerm: s.term + 1})
	}
	if err == nil {
		err = reopen("a new term over more than a segment")
	}
	if b != nil {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}
	if err != nil {
		return fmt.Errorf("writing on after recovery: %w", err)
	}
	return nil
}

// acked is what a backend that appends at one term had acknowledged as
// durable at some instant (the full-disk and concurrent cases).
type acked struct {
	last      uint64 // every entry up to here was saved with a sync
	commit    uint64 // of the last HardState saved with a sync
	snapIndex uint64 // of the last CreateSnapshot that returned
}

func checkAcked(t *testing.T, b logbackends.Backend, a acked) {
	t.Helper()
	if err := ackedErr(b, a); err != nil {
		t.Fatal(err)
	}
}

// ackedErr says how b fails to hold what a says was acknowledged.
func ackedErr(b logbackends.Backend, a acked) error {
	fi, _ := b.FirstIndex()
	li, _ := b.LastIndex()
	if li < a.last {
		return fmt.Errorf("last index %d, but %d was acknowledged", li, a.last)
	}
	hs, _, _ := b.InitialState()
	if hs.GetCommit() < a.commit || hs.GetTerm() < 1 && a.last > 0 {
		return fmt.Errorf("hard state %v, but commit %d was acknowledged", hs, a.commit)
	}
	s, _ := b.Snapshot()
	if s.GetMetadata().GetIndex() < a.snapIndex {
		return fmt.Errorf("snapshot at %d, but %d was acknowledged", s.GetMetadata().GetIndex(), a.snapIndex)
	}
	if fi > a.last+1 {
		return fmt.Errorf("log starts at %d, past acknowledged entry %d", fi, a.last)
	}
	if fi <= a.last {
		got, err := b.Entries(fi, a.last+1, ^uint64(0))
		if err != nil {
			return fmt.Errorf("Entries(%d, %d): %v", fi, a.last+1, err)
		}
		for k, e := range got {
			i := fi + uint64(k)
			if e.GetIndex() != i || string(e.GetData()) != string(entryData(i, 1)) {
				return fmt.Errorf("entry %d lost or changed: index %d term %d", i, e.GetIndex(), e.GetTerm())
			}
		}
	}
	return nil
}

// savedLog writes entries 1..n in Saves of five and closes the backend.
func savedLog(t *testing.T, h *harness, n uint64) {
	t.Helper()
	b := h.open()
	for i := uint64(1); i <= n; i += 5 {
		save(t, b, hardState(1, i), ents(i, i+4, 1))
	}
	must(t, b.Close())
}

func hurt(t *testing.T, fsys vfs.FS, path string, off int64, p []byte) {
	t.Helper()
	f, err := fsys.Open(path)
	must(t, err)
	_, err = f.WriteAt(p, off)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
}

func lastSegment(t *testing.T, fsys vfs.FS) segment.SegmentInfo {
	t.Helper()
	segs, err := segment.Inspect(fsys, dir)
	must(t, err)
	if len(segs) == 0 {
		t.Fatal("no segments")
	}
	return segs[len(segs)-1]
}

// bigEntry is entry i of term 1 with data long enough that its record
// spans sectors.
func bigEntry(i uint64) *raftpb.Entry {
	e := ent(i, 1)
	e.Data = append(e.Data, make([]byte, 1500)...)
	for k := range e.Data[len(e.Data)-1500:] {
		e.Data[len(e.Data)-1500+k] = byte(k%251 + 1)
	}
	return e
}

// testTornTail damages the last Save of a closed log as a crash that left
// it unsynced can (whole sectors of its write never reached the disk) and
// checks the backend cuts it, counts the cut in its Stats, logs it, and
// goes on.
func testTornTail(t *testing.T, h *harness) {
	tests := []struct {
		name string
		// hurt damages the record r of the big entry; the HardState record
		// of the same Save follows it.
		hurt func(t *testing.T, fsys vfs.FS, seg segment.SegmentInfo, r segment.RecordInfo)
	}{
		{"a record's sectors after its first lost, and the writes after it", func(t *testing.T, fsys vfs.FS, seg segment.SegmentInfo, r segment.RecordInfo) {
			b := (r.Offset/vfs.SectorSize + 1) * vfs.SectorSize
			end := seg.Records[len(seg.Records)-1]
			hurt(t, fsys, seg.Path, b, make([]byte, end.Offset+end.Size-b))
		}},
		{"a middle sector of a record lost, the write after it landed", func(t *testing.T, fsys vfs.FS, seg segment.SegmentInfo, r segment.RecordInfo) {
			b := (r.Offset/vfs.SectorSize + 1) * vfs.SectorSize
			hurt(t, fsys, seg.Path, b, make([]byte, vfs.SectorSize))
		}},
		{"a whole record lost, the write after it landed", func(t *testing.T, fsys vfs.FS, seg segment.SegmentInfo, r segment.RecordInfo) {
			hurt(t, fsys, seg.Path, r.Offset, make([]byte, r.Size))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{t: t, f: h.f, fs: vfs.NewMem()}
			savedLog(t, h, 40)
			b := h.open()
			must(t, b.Save(hardState(1, 40), []*raftpb.Entry{bigEntry(41)}, nil, true))
			must(t, b.Close())
			seg := lastSegment(t, h.fs)
			var r segment.RecordInfo
			for _, rec := range seg.Records {
				if rec.Type == segment.TypeEntry && rec.Size > 1500 {
					r = rec
				}
			}
			if r.Size == 0 {
				t.Fatalf("no record of entry 41 in %s", seg.Path)
			}
			tt.hurt(t, h.fs, seg, r)

			var out strings.Builder
			h.log = slog.New(slog.NewTextHandler(&out, nil))
			if h.f.RegionSize > 0 {
				// A backend with a region records in its log directory
				// that a clean close drained everything to disk, so a
				// shorter disk log after one is not a crash's torn tail
				// but damage, and must be refused.
				if b, err := h.openOn(h.fs); !errors.Is(err, logbackends.ErrCorrupt) {
					if b != nil {
						b.Close()
					}
					t.Fatalf("open after a clean close and a torn disk log: %v, want %v", err, logbackends.ErrCorrupt)
				}
				return
			}
			b = h.open()
			checkLog(t, b, 1, repeat(1, 40))
			if hs, _, _ := b.InitialState(); hs.GetCommit() != 36 {
				t.Fatalf("hard state %v after the cut, want the one saved with entries 36..40", hs)
			}
			st := b.Stats()
			cuts, _ := st.Counter(logbackends.CounterTornTails)
			cutBytes, _ := st.Counter(logbackends.CounterTornBytes)
			if cuts != 1 || cutBytes == 0 {
				t.Fatalf("Stats count %d torn tails of %d bytes, want 1 of some bytes", cuts, cutBytes)
			}
			if want := fmt.Sprintf("file=%s offset=%d bytes=%d", seg.Path, r.Offset, cutBytes); !strings.Contains(out.String(), want) {
				t.Fatalf("log %q does not say %q", out.String(), want)
			}
			save(t, b, hardState(1, 41), ents(41, 45, 1))
			b = h.reopen(b)
			checkLog(t, b, 1, repeat(1, 45))
			if cuts, _ := b.Stats().Counter(logbackends.CounterTornTails); cuts != 0 {
				t.Fatalf("a clean reopen counts %d torn tails", cuts)
			}
			must(t, b.Close())
		})
	}
}

// testCorruption damages records a crash cannot have touched, in the
// middle of the log and in its last, synced record: the backend must
// refuse to open, naming the file and offset.
func testCorruption(t *testing.T, h *harness) {
	tests := []struct {
		name string
		// pick returns the segment and record to damage, and where in the
		// record to flip a bit.
		pick func(segs []segment.SegmentInfo) (segment.SegmentInfo, segment.RecordInfo, int64)
	}{
		{"a record in the middle", func(segs []segment.SegmentInfo) (segment.SegmentInfo, segment.RecordInfo, int64) {
			seg := segs[0]
			r := seg.Records[len(seg.Records)/2]
			return seg, r, r.Size - 9
		}},
		{"the last record, synced", func(segs []segment.SegmentInfo) (segment.SegmentInfo, segment.RecordInfo, int64) {
			seg := segs[len(segs)-1]
			return seg, seg.Records[len(seg.Records)-1], 17
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{t: t, f: h.f, fs: vfs.NewMem()}
			savedLog(t, h, 40)
			segs, err := segment.Inspect(h.fs, dir)
			must(t, err)
			seg, r, at := tt.pick(segs)
			if len(seg.Records) < 6 {
				t.Fatalf("segment %s has only %d records", seg.Path, len(seg.Records))
			}
			f, err := h.fs.Open(seg.Path)
			must(t, err)
			b := make([]byte, 1)
			_, err = f.ReadAt(b, r.Offset+at)
			must(t, err)
			must(t, f.Close())
			hurt(t, h.fs, seg.Path, r.Offset+at, []byte{b[0] ^ 0x20})
			_, err = h.openOn(h.fs)
			if !errors.Is(err, logbackends.ErrCorrupt) {
				t.Fatalf("open after flipping a bit of %s at %d: err = %v, want ErrCorrupt", seg.Path, r.Offset+at, err)
			}
			if want := fmt.Sprintf("%s at offset %d", seg.Path, r.Offset); !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		})
	}
}

// testFullDisk fills the disk under a write load: Save must fail with
// ENOSPC, and afterwards the file system as it is keeps every acknowledged
// write and a crash clone keeps every durable one (all acknowledged writes
// for a crash-safe backend, those covered by a sync for a window backend).
func testFullDisk(t *testing.T, h *harness) {
	w := &window{}
	fsys := vfs.FS(h.fs)
	if h.f.Durability == SyncedWindow {
		fsys = w.wrap(h.fs)
	}
	b, err := h.openOn(fsys)
	if err != nil {
		t.Fatalf("open %s: %v", h.f.Name, err)
	}
	last := uint64(0)
	var ack, synced acked
	saved := func() {
		last += 5
		ack = acked{last: last, commit: last - 5}
		w.acknowledge(func(a *acked) { *a = ack })
	}
	for last < 20 {
		save(t, b, hardState(1, last), ents(last+1, last+5, 1))
		saved()
	}
	h.fs.FailWritesAfter(1000)
	// A backend with a region acknowledges from it and meets the full
	// disk in its drainer, whenever that runs: at the latest once the
	// region is full, which these extra tries guarantee.
	limit := 200 + h.f.RegionSize/64
	for tries := 0; err == nil && tries < limit; tries++ {
		if err = b.Save(hardState(1, last), ents(last+1, last+5, 1), nil, true); err == nil {
			saved()
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save on a full disk: err = %v, want ENOSPC", err)
	}
	t.Logf("Save on a full disk: %v", err)
	if cerr := b.Close(); cerr != nil {
		t.Logf("Close after ENOSPC: %v", cerr)
	}
	h.fs.FailWritesAfter(-1)
	durable := ack
	if h.f.Durability == SyncedWindow {
		synced, _ = w.covered()
		durable = synced
	}
	// The backend is closed: nothing stores into its region any more.
	var crashImg, img []byte
	if h.sim != nil {
		crashImg, img = h.sim.Crash(rand.New(rand.NewSource(1)), 0), h.sim.Bytes()
	}
	tests := []struct {
		name string
		fs   *vfs.Mem
		img  []byte
		want acked
	}{
		{"after a crash", h.fs.CrashClone(rand.New(rand.NewSource(1)), 0), crashImg, durable},
		{"after a restart", h.fs, img, ack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, err := h.openAt(tt.fs, tt.img)
			if err != nil {
				t.Fatalf("reopen after ENOSPC: %v", err)
			}
			checkAcked(t, b, tt.want)
			must(t, b.Close())
		})
	}
}
