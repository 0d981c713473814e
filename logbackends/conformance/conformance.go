package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Durability is what a backend promises across a restart.
type Durability int

const (
	// Volatile backends keep nothing across a restart (memory).
	Volatile Durability = iota
	// CleanClose backends keep what was saved across Close and Open, but a
	// crash may lose any acknowledged write.
	CleanClose
	// SyncedWindow backends acknowledge before syncing and sync later
	// (async): a crash may lose what was acknowledged since the last
	// completed sync, never more. The suite takes a write acknowledged
	// before a file Sync started as covered once that Sync returns, which
	// holds for a backend that syncs one log file and synced the files it
	// left behind.
	SyncedWindow
	// CrashSafe backends keep every write they acknowledged as durable even
	// across a power loss (fsync, batched, adr).
	CrashSafe
)

// Factory describes a backend to the suite.
type Factory struct {
	Name       string
	Durability Durability
	// Segments says the backend keeps its log as segment files (package
	// segment) in Env.Dir, written through Env.FS before Save returns:
	// the torn-tail, corruption and full-disk cases apply.
	Segments bool
	// Open opens the backend in env (the suite's directory on its
	// in-memory file system) with the settings p asks for, which the
	// backend's test puts into its Config.
	Open func(env logbackends.Env, p Params) (logbackends.Backend, error)
	// RegionSize, above zero, gives the backend a simulated
	// persistent-memory region (adr.Sim, in Params.Region) of that many
	// bytes, kept across reopens as the file system is; crash points then
	// image the region as well as the disk, and the power-loss case runs.
	RegionSize int
	// RingFullWaits, for a backend with a region, names its Stats counter
	// of Saves that waited for the region to have space: the power-loss
	// case holds the drainer until that counter moves, so that appends
	// land in space released a moment before.
	RingFullWaits string
}

// Params are the settings the suite asks of the backend it opens.
type Params struct {
	// SegmentSize is small, so that the suite's loads span many segments
	// and compaction removes some.
	SegmentSize int64
	// SyncInterval is short, for a backend that syncs on an interval
	// (async): it syncs many times in a quick test.
	SyncInterval time.Duration
	// Region is the simulated region to keep the log in; nil unless
	// Factory.RegionSize is above zero. The backend owns it once opened.
	Region adr.Region
}

const (
	dir          = "/data/log"
	segSize      = 4096
	syncInterval = time.Millisecond
)

// Run runs the whole suite against f.
func Run(t *testing.T, f Factory) {
	cases := []struct {
		name string
		need Durability
		segs bool
		run  func(t *testing.T, h *harness)
	}{
		{"append and read back", Volatile, false, testAppendRead},
		{"rejects a gap", Volatile, false, testGap},
		{"overwrite conflicting suffix", Volatile, false, testOverwrite},
		{"snapshots and compaction", Volatile, false, testSnapshotCompaction},
		{"install snapshot from leader", Volatile, false, testInstallSnapshot},
		{"closed backend", Volatile, false, testClosed},
		{"concurrent readers", Volatile, false, testConcurrentReaders},
		{"reopen after clean close", CleanClose, false, testReopen},
		{"crash clones keep acknowledged writes", CrashSafe, false, testCrash},
		{"crash clones keep what was synced", SyncedWindow, false, testWindowCrash},
		{"concurrent saves keep acknowledged writes", CrashSafe, false, testConcurrentCrash},
		{"torn tail is cut", CleanClose, true, testTornTail},
		{"corruption is reported", CleanClose, true, testCorruption},
		{"full disk", SyncedWindow, true, testFullDisk},
		{"power losses at region flushes and fences", CrashSafe, false, testPowerLoss},
		{"negative control: misordered syncs are caught", SyncedWindow, false, testNegativeControl},
		{"negative control: misordered syncs of concurrent saves are caught", CrashSafe, false, testConcurrentNegativeControl},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if f.Durability < c.need {
				switch f.Durability {
				case Volatile:
					t.Skipf("%s promises nothing across restarts", f.Name)
				case CleanClose:
					t.Skipf("%s does not promise to survive a crash", f.Name)
				default:
					t.Skipf("%s promises only what it synced to survive a crash", f.Name)
				}
			}
			if c.segs && !f.Segments {
				t.Skipf("%s keeps no segment files", f.Name)
			}
			c.run(t, &harness{t: t, f: f, fs: vfs.NewMem()})
		})
	}
}

// harness opens backends of one factory on one in-memory file system.
type harness struct {
	t  *testing.T
	f  Factory
	fs *vfs.Mem
	// sim is the region of the backend opened last (Factory.RegionSize);
	// the next open maps what it holds, as a restarted process would.
	sim *adr.Sim
	// log, when set, is where opened backends log.
	log *slog.Logger
}

// openOn opens the backend on fsys and, for a backend with a region, on
// what the last one left in it.
func (h *harness) openOn(fsys vfs.FS) (logbackends.Backend, error) {
	var img []byte
	if h.sim != nil {
		img = h.sim.Bytes()
	}
	b, sim, err := h.openAt(fsys, img)
	if sim != nil {
		h.sim = sim
	}
	return b, err
}

// openAt opens the backend on fsys and, for a backend with a region, a
// simulated region starting from img (a fresh one when nil), which it
// returns.
func (h *harness) openAt(fsys vfs.FS, img []byte) (logbackends.Backend, *adr.Sim, error) {
	p := Params{SegmentSize: segSize, SyncInterval: syncInterval}
	var sim *adr.Sim
	if h.f.RegionSize > 0 {
		sim = adr.NewSim(h.f.RegionSize)
		if img != nil {
			sim = adr.SimFrom(img)
		}
		p.Region = sim
	}
	b, err := h.f.Open(logbackends.Env{Dir: dir, FS: fsys, Logger: h.logger()}, p)
	return b, sim, err
}

// logger is where the backends the harness opens log: nowhere unless a
// case asked to read it.
func (h *harness) logger() *slog.Logger {
	if h.log != nil {
		return h.log
	}
	return slog.New(slog.DiscardHandler)
}

func (h *harness) open() logbackends.Backend {
	h.t.Helper()
	b, err := h.openOn(h.fs)
	if err != nil {
		h.t.Fatalf("open %s: %v", h.f.Name, err)
	}
	return b
}

func (h *harness) reopen(b logbackends.Backend) logbackends.Backend {
	h.t.Helper()
	if err := b.Close(); err != nil {
		h.t.Fatalf("close: %v", err)
	}
	return h.open()
}

func entryData(i, term uint64) []byte {
	d := fmt.Appendf(nil, "entry %d term %d:", i, term)
	return append(d, bytes.Repeat([]byte{byte(i)}, int(i%97))...)
}

func ent(i, term uint64) *raftpb.Entry {
	return &raftpb.Entry{Index: new(i), Term: new(term), Type: raftpb.EntryNormal.Enum(), Data: entryData(i, term)}
}

func ents(lo, hi, term uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, ent(i, term))
	}
	return out
}

func hardState(term, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(commit)}
}

// Entries returns entries lo..hi of term with data that names them, for a
// backend's own tests.
func Entries(lo, hi, term uint64) []*raftpb.Entry { return ents(lo, hi, term) }

// HardState returns a HardState of term with a vote and commit, for a
// backend's own tests.
func HardState(term, commit uint64) *raftpb.HardState { return hardState(term, commit) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func save(t *testing.T, b logbackends.Backend, hs *raftpb.HardState, es []*raftpb.Entry) {
	t.Helper()
	if err := b.Save(hs, es, nil, true); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// checkLog checks first and last index and every entry's term and data;
// terms[i-first] is the term entry i must have.
func checkLog(t *testing.T, b logbackends.Backend, first uint64, terms []uint64) {
	t.Helper()
	fi, _ := b.FirstIndex()
	li, _ := b.LastIndex()
	last := first + uint64(len(terms)) - 1
	if fi != first || li != last {
		t.Fatalf("log is %d..%d, want %d..%d", fi, li, first, last)
	}
	if len(terms) == 0 {
		return
	}
	got, err := b.Entries(first, last+1, ^uint64(0))
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
	}
	if len(got) != len(terms) {
		t.Fatalf("Entries returned %d entries, want %d", len(got), len(terms))
	}
	for k, e := range got {
		i := first + uint64(k)
		if e.GetIndex() != i || e.GetTerm() != terms[k] || !bytes.Equal(e.GetData(), entryData(i, terms[k])) {
			t.Fatalf("entry %d = index %d term %d, want term %d", i, e.GetIndex(), e.GetTerm(), terms[k])
		}
		if term, err := b.Term(i); err != nil || term != terms[k] {
			t.Fatalf("Term(%d) = %d, %v; want %d", i, term, err, terms[k])
		}
	}
}

func repeat(term uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = term
	}
	return out
}

func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
