package adrlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Member and cluster ids of the logs in these tests.
const (
	testCluster = 0x9c
	memberA     = 0xa1
	memberB     = 0xb2
	logDir      = "/data/member/wal"
	// bindRegionSize holds a few dozen small Saves.
	bindRegionSize = 256 + 16<<10
)

// namedSim is a simulated region with a path, as a mapped one has, so
// that messages naming the region can be checked.
type namedSim struct {
	*adr.Sim
	path string
}

func (n namedSim) Info() adr.Info {
	i := n.Sim.Info()
	i.Path = n.path
	return i
}

// member is one member's log on its own file system and region.
type member struct {
	id     uint64
	fs     *vfs.Mem
	sim    *adr.Sim
	region string
	logged bytes.Buffer
}

func newMember(id uint64) *member {
	return &member{id: id, fs: vfs.NewMem(), sim: adr.NewSim(bindRegionSize), region: fmt.Sprintf("/dev/shm/m%x.pmem", id)}
}

// open opens the member's log on its file system and on sim, which the
// backend then owns.
func (m *member) open(sim *adr.Sim, reset bool) (*Backend, error) {
	m.sim = sim
	env := logbackends.Env{Dir: logDir, FS: m.fs, ClusterID: testCluster, MemberID: m.id,
		Logger: slog.New(slog.NewTextHandler(&m.logged, nil))}
	cfg := Config{SegmentSize: 1 << 20, RegionReset: reset,
		OpenRegion: func() (adr.Region, error) { return namedSim{sim, m.region}, nil }}
	return open(env, cfg)
}

func (m *member) mustOpen(t *testing.T, sim *adr.Sim) *Backend {
	t.Helper()
	b, err := m.open(sim, false)
	if err != nil {
		t.Fatalf("open member %x: %v", m.id, err)
	}
	return b
}

// holdInRing makes the drainer leave published Saves in the ring until
// something needs it empty.
func holdInRing(b *Backend) {
	b.d.mu.Lock()
	b.d.delay, b.d.threshold = time.Hour, 1<<30
	b.d.mu.Unlock()
}

// saveEntries saves entries lo..hi of term, one Save each.
func saveEntries(t *testing.T, b *Backend, lo, hi, term uint64) {
	t.Helper()
	for i := lo; i <= hi; i++ {
		if err := b.Save(conformance.HardState(term, i-1), conformance.Entries(i, i, term), nil, true); err != nil {
			t.Fatalf("Save(%d): %v", i, err)
		}
	}
}

// crash returns what a crash of the process leaves of m now: its file
// system and its region as they are, page cache and region included.
func (m *member) crash() (*vfs.Mem, []byte) {
	rng := rand.New(rand.NewSource(1))
	img := m.sim.Crash(rng, 1)
	return m.fs.CrashClone(rng, 1), img
}

// checkEntries checks that b holds entries 1..n of term as saved.
func checkEntries(t *testing.T, b *Backend, n, term uint64) {
	t.Helper()
	last, _ := b.LastIndex()
	if last < n {
		t.Fatalf("last index %d, want at least %d", last, n)
	}
	if n == 0 {
		return
	}
	got, err := b.Entries(1, n+1, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range conformance.Entries(1, n, term) {
		if !bytes.Equal(got[k].GetData(), e.GetData()) || got[k].GetTerm() != term {
			t.Fatalf("entry %d: %v", k+1, got[k])
		}
	}
}

// TestOpenCases opens a member's log on what a restart can find in its
// region: its own ring, nothing (after a clean close or not), another
// member's ring, an older ring of its own, a ring handed to a new log,
// a damaged superblock or record. Where entries of the log may be lost, or
// another log's ring would be formatted over, Open refuses with one error
// that names the region, the log and the flag that accepts the loss; with
// that flag it opens and logs what it discarded.
func TestOpenCases(t *testing.T) {
	// A crashed member: entries 1..6 drained to disk, 7..12 only in its
	// ring when it died.
	crashed := func(t *testing.T) (*member, []byte) {
		m := newMember(memberA)
		b := m.mustOpen(t, m.sim)
		saveEntries(t, b, 1, 6, 1)
		b.mu.Lock()
		must(t, b.d.quiesce())
		b.mu.Unlock()
		holdInRing(b)
		saveEntries(t, b, 7, 12, 1)
		fs, img := m.crash()
		b.Close()
		m.fs = fs
		return m, img
	}
	// A member closed cleanly after entries 1..12.
	closed := func(t *testing.T) (*member, []byte) {
		m := newMember(memberA)
		b := m.mustOpen(t, m.sim)
		saveEntries(t, b, 1, 12, 1)
		must(t, b.Close())
		return m, m.sim.Bytes()
	}
	// The region of another member, crashed with records in its ring.
	otherRegion := func(t *testing.T) []byte {
		o := newMember(memberB)
		b := o.mustOpen(t, o.sim)
		holdInRing(b)
		saveEntries(t, b, 1, 5, 1)
		_, img := o.crash()
		b.Close()
		return img
	}
	flip := func(img []byte, off int) []byte {
		img = bytes.Clone(img)
		img[off] ^= 0x08
		return img
	}
	tests := []struct {
		name string
		// start returns the member, its disk as it is, and the region it
		// finds on restart.
		start func(t *testing.T) (*member, []byte)
		// want is Open's error without --adr-region-reset; nil: it opens.
		want error
		// naming is what the refusal must say besides the region, the
		// log and the flag.
		naming string
		// keeps is how many entries survive (with the reset, when Open
		// refuses without it).
		keeps uint64
		// lost is what the reset's log line says is lost ("" when
		// nothing of this log is).
		lost string
	}{
		{name: "same region", start: crashed, keeps: 12},
		{name: "fresh region after a clean close", start: func(t *testing.T) (*member, []byte) {
			m, _ := closed(t)
			return m, make([]byte, bindRegionSize)
		}, keeps: 12},
		{name: "fresh region, entries only in the lost one", start: func(t *testing.T) (*member, []byte) {
			m, _ := crashed(t)
			return m, make([]byte, bindRegionSize)
		}, want: ErrRegionMismatch, naming: "every byte is zero", keeps: 6, lost: "entries after index 6 (term 1)"},
		{name: "another member's region", start: func(t *testing.T) (*member, []byte) {
			m, _ := crashed(t)
			return m, otherRegion(t)
		}, want: ErrRegionMismatch, naming: fmt.Sprintf("of member %x in cluster %x", memberB, testCluster), keeps: 6, lost: "entries after index 6"},
		{name: "another member's region after a clean close", start: func(t *testing.T) (*member, []byte) {
			m, _ := closed(t)
			return m, otherRegion(t)
		}, want: ErrRegionMismatch, naming: "nothing of this log is lost", keeps: 12},
		{name: "an older ring of this member", start: func(t *testing.T) (*member, []byte) {
			m, stale := crashed(t)
			b := m.mustOpen(t, adr.SimFrom(stale)) // the next incarnation binds a new ring
			holdInRing(b)
			saveEntries(t, b, 13, 14, 1)
			fs, _ := m.crash()
			b.Close()
			m.fs = fs
			return m, stale
		}, want: ErrRegionMismatch, naming: "an older ring of this member", keeps: 12, lost: "entries after index 12"},
		{name: "a new log finds a ring whose records start at index 1", start: func(*testing.T) (*member, []byte) {
			return newMember(memberA), otherRegion(t)
		}, want: ErrRegionMismatch, naming: "this log is new and it holds the ring", keeps: 0},
		{name: "bit flip in the superblock", start: func(t *testing.T) (*member, []byte) {
			m, img := crashed(t)
			return m, flip(img, 60) // in the member id
		}, want: ErrRegionMismatch, naming: "superblock checksum", keeps: 6, lost: "entries after index 6"},
		{name: "bit flip in the magic number", start: func(t *testing.T) (*member, []byte) {
			m, img := crashed(t)
			return m, flip(img, 2)
		}, want: ErrRegionMismatch, naming: "magic number damaged", keeps: 6, lost: "entries after index 6"},
		{name: "bit flip in a ring record", start: func(t *testing.T) (*member, []byte) {
			m, img := crashed(t)
			head := binary.LittleEndian.Uint64(img[2*adr.LineSize:]) // the oldest record kept
			return m, flip(img, 256+int(head%(bindRegionSize-256))+20)
		}, want: ErrRegionMismatch, naming: "its ring cannot be read", keeps: 6, lost: "entries after index 6"},
		{name: "disk log without a binding record", start: func(t *testing.T) (*member, []byte) {
			m, img := closed(t)
			must(t, m.fs.Remove(filepath.Join(logDir, bindingFile)))
			return m, img
		}, want: ErrRegionMismatch, naming: "no binding record", keeps: 12, lost: "entries after index 12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, img := tt.start(t)
			fs := m.fs.CrashClone(rand.New(rand.NewSource(2)), 1) // the same disk for the second open
			b, err := m.open(adr.SimFrom(img), false)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("open: %v, want %v", err, tt.want)
			}
			if err != nil {
				t.Logf("refused: %v", err)
				for _, s := range []string{"region " + m.region, "log " + logDir, "--adr-region-reset", tt.naming} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("refusal %q does not say %q", err, s)
					}
				}
				m.fs = fs
				if b, err = m.open(adr.SimFrom(img), true); err != nil {
					t.Fatalf("open with --adr-region-reset: %v", err)
				}
				logged := m.logged.String()
				for _, line := range strings.Split(logged, "\n") {
					if strings.Contains(line, "--adr-region-reset:") {
						t.Logf("with the reset: %s", line)
					}
				}
				if !strings.Contains(logged, "--adr-region-reset: region "+m.region) || !strings.Contains(logged, tt.lost) ||
					tt.lost == "" && strings.Contains(logged, "are lost") {
					t.Errorf("the reset logged %q, want it to name the region and say %q", logged, tt.lost)
				}
			}
			checkEntries(t, b, tt.keeps, 1)
			if last, _ := b.LastIndex(); last != tt.keeps {
				t.Fatalf("last index %d, want %d", last, tt.keeps)
			}
			// The log takes writes again and a clean restart finds them.
			saveEntries(t, b, tt.keeps+1, tt.keeps+2, 2)
			must(t, b.Close())
			b = m.mustOpen(t, adr.SimFrom(m.sim.Bytes()))
			defer b.Close()
			if last, _ := b.LastIndex(); last != tt.keeps+2 {
				t.Fatalf("after a clean restart: last index %d, want %d", last, tt.keeps+2)
			}
		})
	}
}

// TestOpenOtherMembersLog refuses a log directory bound as another
// member's, and a disk log that went back behind its clean close.
func TestOpenOtherMembersLog(t *testing.T) {
	m := newMember(memberA)
	b := m.mustOpen(t, m.sim)
	saveEntries(t, b, 1, 3, 1)
	must(t, b.Close())
	img := m.sim.Bytes()
	m.id = memberB
	if _, err := m.open(adr.SimFrom(img), true); !errors.Is(err, ErrLogMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("member %x's", memberA)) {
		t.Fatalf("open as another member: %v, want ErrLogMismatch naming member %x", err, memberA)
	}
}

// TestOpenWithoutIDs opens a log with no member or cluster ids, as a
// backend opened on its own is: binding works the same, ids 0.
func TestOpenWithoutIDs(t *testing.T) {
	fs, sim := vfs.NewMem(), adr.NewSim(bindRegionSize)
	b := openSim(t, fs, sim)
	saveEntries(t, b, 1, 3, 1)
	must(t, b.Close())
	c := adr.Inspect(sim)
	if c.Kind != adr.ContentRing || c.Identity.Member != 0 || c.Identity.Drained != 0 {
		t.Fatalf("region holds %s", c.Describe())
	}
	b = openSim(t, fs, adr.SimFrom(sim.Bytes()))
	defer b.Close()
	if c2 := adr.Inspect(b.region); c2.Identity.Ring == c.Identity.Ring || c2.Identity.Drained != 3 {
		t.Fatalf("the second incarnation's ring is %v, the first's %v: want a new ring bound at index 3", c2.Identity, c.Identity)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
