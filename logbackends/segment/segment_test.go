package segment

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

const dir = "/log"

func ent(i, term uint64, size int) *raftpb.Entry {
	data := bytes.Repeat([]byte{byte(i%250 + 1)}, size)
	return &raftpb.Entry{Index: new(i), Term: new(term), Type: raftpb.EntryNormal.Enum(), Data: data}
}

func ents(lo, hi, term uint64, size int) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, ent(i, term, size))
	}
	return out
}

func hs(term, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(commit)}
}

func open(t *testing.T, fsys vfs.FS, segSize int64) (*Log, *State) {
	t.Helper()
	l, st, err := Open(Options{FS: fsys, Dir: dir, SegmentSize: segSize})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkEntries(t *testing.T, st *State, lo, hi uint64) {
	t.Helper()
	if len(st.Entries) != int(hi-lo+1) && !(hi < lo && len(st.Entries) == 0) {
		t.Fatalf("got %d entries (%d..%d), want %d..%d", len(st.Entries), first(st), st.LastIndex(), lo, hi)
	}
	for k, e := range st.Entries {
		if e.GetIndex() != lo+uint64(k) {
			t.Fatalf("entry %d has index %d, want %d", k, e.GetIndex(), lo+uint64(k))
		}
	}
}

func first(st *State) uint64 {
	if len(st.Entries) == 0 {
		return 0
	}
	return st.Entries[0].GetIndex()
}

func TestRoundTrip(t *testing.T) {
	fsys := vfs.NewMem()
	l, st := open(t, fsys, 1<<20)
	if st.HardState != nil || st.Snapshot != nil || len(st.Entries) != 0 {
		t.Fatalf("fresh log has state %+v", st)
	}
	must(t, l.AppendEntries(ents(1, 10, 1, 100)))
	must(t, l.AppendHardState(hs(1, 5)))
	must(t, l.Sync())
	// Overwrite a conflicting suffix: 6..10 at term 1 become 6..8 at term 2.
	must(t, l.AppendEntries(ents(6, 8, 2, 10)))
	must(t, l.AppendHardState(hs(2, 6)))
	must(t, l.Close())

	_, st = open(t, fsys, 1<<20)
	checkEntries(t, st, 1, 8)
	if st.Entries[4].GetTerm() != 1 || st.Entries[5].GetTerm() != 2 || st.Entries[7].GetTerm() != 2 {
		t.Fatalf("overwrite not replayed: terms %d %d %d", st.Entries[4].GetTerm(), st.Entries[5].GetTerm(), st.Entries[7].GetTerm())
	}
	if !proto.Equal(st.HardState, hs(2, 6)) {
		t.Fatalf("HardState = %v", st.HardState)
	}
}

// TestAppendEntryBytes: entries appended already encoded replay as
// AppendEntries' do, across segment switches, overwrites and removal.
func TestAppendEntryBytes(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 4096)
	appendEncoded := func(es []*raftpb.Entry) {
		t.Helper()
		for _, e := range es {
			enc, err := proto.Marshal(e)
			must(t, err)
			must(t, l.AppendEntryBytes(e.GetIndex(), enc))
		}
	}
	appendEncoded(ents(1, 40, 1, 100))
	must(t, l.AppendEntries(ents(41, 50, 1, 100)))
	appendEncoded(ents(45, 60, 2, 100)) // overwrites 45..50
	must(t, l.Sync())
	if l.Segments() < 2 {
		t.Fatalf("%d segments, the test needs a switch", l.Segments())
	}
	must(t, l.AppendCompact(30, 1))
	must(t, l.Sync())
	must(t, l.RemoveBefore(30))
	must(t, l.Close())
	_, st := open(t, fsys, 4096)
	checkEntries(t, st, 31, 60)
	for _, e := range st.Entries {
		want := ent(e.GetIndex(), 1, 100)
		if e.GetIndex() >= 45 {
			want = ent(e.GetIndex(), 2, 100)
		}
		if !proto.Equal(e, want) {
			t.Fatalf("entry %d replayed as %v, want %v", e.GetIndex(), e, want)
		}
	}
}

func TestRolloverCompactionAndRemoval(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 2048)
	for i := uint64(1); i <= 200; i += 10 {
		must(t, l.AppendEntries(ents(i, i+9, 3, 64)))
		must(t, l.AppendHardState(hs(3, i)))
		must(t, l.Sync())
	}
	before := l.Segments()
	if before < 5 {
		t.Fatalf("only %d segments for 200 entries of 2 KiB segments", before)
	}
	snap := &raftpb.Snapshot{Data: bytes.Repeat([]byte("s"), 5000), Metadata: &raftpb.SnapshotMetadata{
		Index: new(uint64(150)), Term: new(uint64(3)), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
	must(t, l.AppendSnapshot(snap, false))
	must(t, l.AppendCompact(150, 3))
	must(t, l.Sync())
	must(t, l.RemoveBefore(150))
	if l.Segments() >= before {
		t.Fatalf("RemoveBefore kept %d of %d segments", l.Segments(), before)
	}
	must(t, l.Close())

	_, st := open(t, fsys, 2048)
	if st.CompactIndex != 150 || st.CompactTerm != 3 {
		t.Fatalf("compaction point %d/%d", st.CompactIndex, st.CompactTerm)
	}
	checkEntries(t, st, 151, 200)
	if !proto.Equal(st.Snapshot, snap) {
		t.Fatal("snapshot (larger than a segment) not replayed intact")
	}
	if !proto.Equal(st.HardState, hs(3, 191)) {
		t.Fatalf("HardState = %v", st.HardState)
	}
}

func TestInstalledSnapshotRestartsLog(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 4096)
	must(t, l.AppendEntries(ents(1, 5, 1, 10)))
	snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(4)), ConfState: &raftpb.ConfState{}}}
	must(t, l.AppendSnapshot(snap, true))
	must(t, l.AppendEntries(ents(21, 22, 4, 10)))
	must(t, l.Close())
	_, st := open(t, fsys, 4096)
	if st.CompactIndex != 20 || st.CompactTerm != 4 {
		t.Fatalf("compaction point %d/%d", st.CompactIndex, st.CompactTerm)
	}
	checkEntries(t, st, 21, 22)
}

// hurtBytes changes bytes of a closed log's segment and makes them durable.
func hurtBytes(t *testing.T, fsys vfs.FS, path string, off int64, b []byte) {
	t.Helper()
	f, err := fsys.Open(path)
	must(t, err)
	_, err = f.WriteAt(b, off)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
}

// readBytes returns n bytes of path at off.
func readBytes(t *testing.T, fsys vfs.FS, path string, off, n int64) []byte {
	t.Helper()
	f, err := fsys.Open(path)
	must(t, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	must(t, err)
	return b
}

// logCapture is a logger whose output a test reads back.
func logCapture() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// sizeForRecord returns the data size of an entry whose record is exactly
// n bytes long, padding included.
func sizeForRecord(t *testing.T, n int) int {
	t.Helper()
	for d := 0; d < n; d++ {
		if padded(headerSize+proto.Size(ent(1, 1, d))) == n {
			return d
		}
	}
	t.Fatalf("no entry has a record of %d bytes", n)
	return 0
}

// dataView is one answer a file system can give to where a file's data
// ends: recovery must reach the same verdict from each.
type dataView struct {
	name string
	wrap func(vfs.FS) vfs.FS
}

// dataViews: Mem's own (the end of the last write), the tightest a file
// system can give (the last byte that is not zero, as one that reports the
// sectors a crash lost as holes does), and none (the whole file is read).
func dataViews() []dataView {
	return []dataView{
		{"data=written", func(fsys vfs.FS) vfs.FS { return fsys }},
		{"data=nonzero", func(fsys vfs.FS) vfs.FS { return viewFS{FS: fsys, tight: true} }},
		{"data=unknown", func(fsys vfs.FS) vfs.FS { return viewFS{FS: fsys} }},
	}
}

// viewFS hides its files' own DataEnd; with tight it reports where their
// last byte that is not zero ends instead.
type viewFS struct {
	vfs.FS
	tight bool
}

func (v viewFS) Create(name string) (vfs.File, error) { return v.view(v.FS.Create(name)) }
func (v viewFS) Open(name string) (vfs.File, error)   { return v.view(v.FS.Open(name)) }

func (v viewFS) view(f vfs.File, err error) (vfs.File, error) {
	if err != nil || !v.tight {
		return hiddenEnd{f}, err
	}
	return tightEnd{hiddenEnd{f}}, nil
}

type hiddenEnd struct{ vfs.File }

type tightEnd struct{ hiddenEnd }

func (f tightEnd) DataEnd() (int64, error) {
	n, err := f.Size()
	if err != nil {
		return 0, err
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && n > 0 {
		return 0, err
	}
	return zerosFrom(b), nil
}

// TestEntryEndingInZerosOnAFileWhoseDataEndsBeforeThem: a record whose
// last bytes are zeros reaches past where a file system may say the data
// ends; it is still valid.
func TestEntryEndingInZerosOnAFileWhoseDataEndsBeforeThem(t *testing.T) {
	for _, v := range dataViews() {
		t.Run(v.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			l, _ := open(t, fsys, 1<<16)
			e := ent(2, 1, 0)
			e.Data = append([]byte("x"), make([]byte, 3000)...)
			must(t, l.AppendEntries([]*raftpb.Entry{ent(1, 1, 40), e}))
			must(t, l.Close())
			_, st := open(t, v.wrap(fsys), 1<<16)
			checkEntries(t, st, 1, 2)
			if st.Cut != nil || !bytes.Equal(st.Entries[1].GetData(), e.Data) {
				t.Fatalf("replayed entry 2 with %d bytes of data and cut %+v", len(st.Entries[1].GetData()), st.Cut)
			}
		})
	}
}

func TestTornTailIsCut(t *testing.T) {
	// Each case writes entries 1..20 to one segment, closes it, damages
	// its records as a crash can (whole sectors of unsynced writes left
	// zero) and returns the last entry that must survive and where the
	// cut must be.
	type cut struct{ last, off, bytes int64 }
	tests := []struct {
		name string
		size int // entry data size; 0 leaves it to write
		// write, when set, writes the log instead of 20 entries of size.
		write func(t *testing.T, l *Log)
		hurt  func(t *testing.T, fsys vfs.FS, seg SegmentInfo) cut
	}{
		{name: "last record's sectors after its first lost", size: 700,
			hurt: func(t *testing.T, fsys vfs.FS, seg SegmentInfo) cut {
				r := seg.Records[len(seg.Records)-1]
				b := (r.Offset/sectorSize + 1) * sectorSize
				hurtBytes(t, fsys, seg.Path, b, make([]byte, r.Offset+r.Size-b))
				return cut{19, r.Offset, b - r.Offset}
			}},
		{name: "a middle sector of the last record lost", size: 1500,
			hurt: func(t *testing.T, fsys vfs.FS, seg SegmentInfo) cut {
				r := seg.Records[len(seg.Records)-1]
				b := (r.Offset/sectorSize + 1) * sectorSize
				hurtBytes(t, fsys, seg.Path, b, make([]byte, sectorSize))
				return cut{19, r.Offset, r.Size}
			}},
		{name: "a write lost, later ones landed", size: 50,
			hurt: func(t *testing.T, fsys vfs.FS, seg SegmentInfo) cut {
				r, end := seg.Records[9], seg.Records[19]
				hurtBytes(t, fsys, seg.Path, r.Offset, make([]byte, r.Size))
				return cut{9, r.Offset, end.Offset + end.Size - r.Offset}
			}},
		{name: "a header torn across a sector boundary",
			write: func(t *testing.T, l *Log) {
				// Entry 1's record ends at 504, so entry 2's header
				// straddles the sector boundary at 512.
				must(t, l.AppendEntries([]*raftpb.Entry{ent(1, 1, sizeForRecord(t, 504))}))
				must(t, l.AppendEntries(ents(2, 2, 1, 100)))
			},
			hurt: func(t *testing.T, fsys vfs.FS, seg SegmentInfo) cut {
				r := seg.Records[1]
				if r.Offset != 504 {
					t.Fatalf("entry 2 is at %d, want 504", r.Offset)
				}
				hurtBytes(t, fsys, seg.Path, sectorSize, make([]byte, r.Offset+r.Size-sectorSize))
				return cut{1, r.Offset, sectorSize - r.Offset}
			}},
	}
	for _, v := range dataViews() {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				fsys := vfs.NewMem()
				l, _ := open(t, fsys, 1<<16)
				if tt.write != nil {
					tt.write(t, l)
				} else {
					must(t, l.AppendEntries(ents(1, 20, 1, tt.size)))
				}
				must(t, l.Close())
				segs, err := Inspect(fsys, dir)
				must(t, err)
				want := tt.hurt(t, fsys, segs[0])

				logger, out := logCapture()
				l, st, err := Open(Options{FS: v.wrap(fsys), Dir: dir, SegmentSize: 1 << 16, Logger: logger})
				must(t, err)
				checkEntries(t, st, 1, uint64(want.last))
				c := st.Cut
				if c == nil || c.Path != segs[0].Path || c.Offset != want.off || c.Bytes != want.bytes {
					t.Fatalf("cut %+v, want %s at offset %d, %d bytes", c, segs[0].Path, want.off, want.bytes)
				}
				for _, attr := range []string{"file=" + c.Path, fmt.Sprintf("offset=%d", c.Offset), fmt.Sprintf("bytes=%d", c.Bytes)} {
					if !strings.Contains(out.String(), attr) {
						t.Fatalf("the cut's log line %q does not say %s", out.String(), attr)
					}
				}
				// The cut tail must not confuse the next recovery.
				next := uint64(want.last + 1)
				must(t, l.AppendEntries(ents(next, next+4, 2, 50)))
				must(t, l.Close())
				_, st = open(t, v.wrap(fsys), 1<<16)
				checkEntries(t, st, 1, next+4)
				if st.Cut != nil {
					t.Fatalf("a second cut after a clean close: %+v", st.Cut)
				}
			})
		}
	}
}

// TestDamageIsNotCut: an invalid record a crash cannot leave is reported
// with its file and offset, never cut, wherever it is: at the end of the
// log too.
func TestDamageIsNotCut(t *testing.T) {
	// Each case damages a log of 80 entries over segments of 4 KiB and
	// returns the segment and offset the error must name.
	lastRecord := func(t *testing.T, segs []SegmentInfo) (SegmentInfo, RecordInfo) {
		seg := segs[len(segs)-1]
		return seg, seg.Records[len(seg.Records)-1]
	}
	tests := []struct {
		name string
		hurt func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64)
	}{
		{"a flipped bit in the last record's payload", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			seg, r := lastRecord(t, segs)
			b := readBytes(t, fsys, seg.Path, r.Offset+headerSize+3, 1)
			hurtBytes(t, fsys, seg.Path, r.Offset+headerSize+3, []byte{b[0] ^ 0x10})
			return seg.Path, r.Offset
		}},
		{"a flipped bit in the last record's checksum", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			seg, r := lastRecord(t, segs)
			b := readBytes(t, fsys, seg.Path, r.Offset+1, 1)
			hurtBytes(t, fsys, seg.Path, r.Offset+1, []byte{b[0] ^ 0x01})
			return seg.Path, r.Offset
		}},
		{"a flipped bit in the last record's length, reaching into zeros", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			seg, r := lastRecord(t, segs)
			b := readBytes(t, fsys, seg.Path, r.Offset+9, 1)
			hurtBytes(t, fsys, seg.Path, r.Offset+9, []byte{b[0] ^ 0x04}) // +1024
			return seg.Path, r.Offset
		}},
		{"garbage after the last record", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			seg, r := lastRecord(t, segs)
			hurtBytes(t, fsys, seg.Path, r.Offset+r.Size, bytes.Repeat([]byte{0xFF}, 40))
			return seg.Path, r.Offset + r.Size
		}},
		{"the last record's tail zeroed inside a sector it wrote", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			seg, r := lastRecord(t, segs)
			if r.Offset/sectorSize != (r.Offset+r.Size-1)/sectorSize {
				t.Fatalf("the last record (%d bytes at %d) crosses a sector boundary", r.Size, r.Offset)
			}
			hurtBytes(t, fsys, seg.Path, r.Offset+r.Size-16, make([]byte, 16))
			return seg.Path, r.Offset
		}},
		{"a payload bit flip in the middle", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			r := segs[0].Records[5]
			hurtBytes(t, fsys, segs[0].Path, r.Offset+headerSize+7, []byte{0x55})
			return segs[0].Path, r.Offset
		}},
		{"a length overwritten in the middle", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			r := segs[0].Records[8]
			hurtBytes(t, fsys, segs[0].Path, r.Offset+8, []byte{0xEE, 0xEE})
			return segs[0].Path, r.Offset
		}},
		{"a torn record in a segment synced whole", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			r := segs[0].Records[len(segs[0].Records)-1]
			b := (r.Offset/sectorSize + 1) * sectorSize
			if b >= r.Offset+r.Size {
				b = r.Offset + headerSize
			}
			hurtBytes(t, fsys, segs[0].Path, b, make([]byte, r.Offset+r.Size-b))
			return segs[0].Path, r.Offset
		}},
		{"written bytes after the end of a segment synced whole", func(t *testing.T, fsys vfs.FS, segs []SegmentInfo) (string, int64) {
			r := segs[0].Records[len(segs[0].Records)-1]
			hurtBytes(t, fsys, segs[0].Path, r.Offset+r.Size+64, []byte{1})
			return segs[0].Path, r.Offset + r.Size
		}},
	}
	for _, v := range dataViews() {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				fsys := vfs.NewMem()
				l, _ := open(t, fsys, 4096)
				for i := uint64(1); i <= 80; i += 5 {
					must(t, l.AppendEntries(ents(i, i+4, 1, 60)))
					must(t, l.Sync())
				}
				must(t, l.Close())
				segs, err := Inspect(fsys, dir)
				must(t, err)
				if len(segs) < 2 {
					t.Fatalf("%d segments, the cases need two", len(segs))
				}
				path, off := tt.hurt(t, fsys, segs)

				logger, out := logCapture()
				_, _, err = Open(Options{FS: v.wrap(fsys), Dir: dir, SegmentSize: 4096, Logger: logger})
				if !errors.Is(err, logbackends.ErrCorrupt) {
					t.Fatalf("Open = %v, want ErrCorrupt", err)
				}
				if want := fmt.Sprintf("%s at offset %d", path, off); !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %q", err, want)
				}
				if out.Len() != 0 {
					t.Fatalf("a refused log logged %q", out.String())
				}
				// Nothing was changed: the damage is still there.
				if _, _, err := Open(Options{FS: v.wrap(fsys), Dir: dir, SegmentSize: 4096, Logger: logger}); !errors.Is(err, logbackends.ErrCorrupt) {
					t.Fatalf("second Open = %v, want ErrCorrupt again", err)
				}
			})
		}
	}
}

// TestBytesAfterTheLastRecordTooFewForOne: a segment whose last record
// ends less than a header before its end, with written bytes there, is
// damage, reported and not a panic.
func TestBytesAfterTheLastRecordTooFewForOne(t *testing.T) {
	fsys := vfs.NewMem()
	size := int64(sizeForRecord(t, 120))
	l, _ := open(t, fsys, 128)
	must(t, l.AppendEntries([]*raftpb.Entry{ent(1, 1, int(size))}))
	must(t, l.Close())
	segs, err := Inspect(fsys, dir)
	must(t, err)
	if segs[0].Size != 128 || segs[0].Records[0].Size != 120 {
		t.Fatalf("segment of %d bytes with a record of %d, want 128 and 120", segs[0].Size, segs[0].Records[0].Size)
	}
	hurtBytes(t, fsys, segs[0].Path, 124, []byte{1})
	_, _, err = Open(Options{FS: fsys, Dir: dir, SegmentSize: 128})
	if want := fmt.Sprintf("%s at offset 120", segs[0].Path); !errors.Is(err, logbackends.ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v, want ErrCorrupt naming %q", err, want)
	}
}

// TestHoleBeforeAnOverwriteIsCorrupt: entries that start past the
// compaction point, then an overwrite below the first of them, leave a
// hole replay must report, not a log it cannot index.
func TestHoleBeforeAnOverwriteIsCorrupt(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 1<<16)
	must(t, l.AppendEntries(ents(5, 6, 1, 10)))
	must(t, l.AppendEntries(ents(3, 3, 2, 10)))
	must(t, l.Close())
	_, _, err := Open(Options{FS: fsys, Dir: dir, SegmentSize: 1 << 16})
	if !errors.Is(err, logbackends.ErrCorrupt) || !strings.Contains(err.Error(), "entries 1..2 are missing") {
		t.Fatalf("Open = %v, want ErrCorrupt naming entries 1..2", err)
	}
}

// TestStateRewrittenAfterALostSegmentStart: a crash just after a segment
// switch loses the state records the new segment starts with. Once the
// segments before it are removed, the log must still hold its HardState
// and snapshot.
func TestStateRewrittenAfterALostSegmentStart(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 1024)
	must(t, l.AppendEntries(ents(1, 5, 1, 100)))
	snap := &raftpb.Snapshot{Data: []byte("snap"), Metadata: &raftpb.SnapshotMetadata{
		Index: new(uint64(3)), Term: new(uint64(1)), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}
	must(t, l.AppendSnapshot(snap, false))
	must(t, l.AppendHardState(hs(7, 3)))
	must(t, l.Sync())
	// Entries flushed, never synced, until one starts a new segment: its
	// creation is synced, what is written to it is not.
	i := uint64(6)
	for n := l.Segments(); l.Segments() == n; i++ {
		must(t, l.AppendEntries(ents(i, i, 1, 100)))
		must(t, l.Flush())
	}
	crashed := fsys.CrashClone(rand.New(rand.NewSource(1)), 0)
	segs, err := Inspect(crashed, dir)
	must(t, err)
	if n := len(segs); n != 2 || len(segs[1].Records) != 0 {
		t.Fatalf("after the crash: %d segments, the last with records %v; want 2, the last empty", n, segs[n-1].Records)
	}

	l, st := open(t, crashed, 1024)
	last := st.LastIndex()
	// A follower appends with no new HardState, then the log is
	// compacted past everything in the first segment.
	must(t, l.AppendEntries(ents(last+1, last+1, 1, 10)))
	must(t, l.AppendSnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index: new(last), Term: new(uint64(1)), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}, false))
	must(t, l.AppendCompact(last, 1))
	must(t, l.Sync())
	must(t, l.RemoveBefore(last))
	if l.Segments() != 1 {
		t.Fatalf("%d segments after compaction, want 1", l.Segments())
	}
	must(t, l.Close())
	_, st = open(t, crashed, 1024)
	if !proto.Equal(st.HardState, hs(7, 3)) {
		t.Fatalf("HardState after compaction = %v, want %v", st.HardState, hs(7, 3))
	}
	checkEntries(t, st, last+1, last+1)
}

// TestCreatesItsDirectoryDurably: the log's directory and the parents
// Open creates survive a power loss right after Open.
func TestCreatesItsDirectoryDurably(t *testing.T) {
	fsys := vfs.NewMem()
	l, _, err := Open(Options{FS: fsys, Dir: "/data/member/wal", SegmentSize: 4096})
	must(t, err)
	must(t, l.AppendEntries(ents(1, 3, 1, 10)))
	must(t, l.Sync())
	crashed := fsys.CrashClone(rand.New(rand.NewSource(1)), 0)
	_, st, err := Open(Options{FS: crashed, Dir: "/data/member/wal", SegmentSize: 4096})
	must(t, err)
	checkEntries(t, st, 1, 3)
	must(t, l.Close())
}

func TestStopsAfterIOError(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 1<<16)
	must(t, l.AppendEntries(ents(1, 5, 1, 50)))
	must(t, l.Sync())
	fsys.FailWritesAfter(30)
	must(t, l.AppendEntries(ents(6, 10, 1, 50)))
	err := l.Sync()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync = %v, want ENOSPC", err)
	}
	fsys.FailWritesAfter(-1)
	if err := l.AppendEntries(ents(11, 11, 1, 50)); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append after failure = %v, want ErrFailed wrapping ENOSPC", err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close after failure returned nil")
	}
	_, st := open(t, fsys, 1<<16)
	checkEntries(t, st, 1, 5)
}

func TestSyncCounting(t *testing.T) {
	fsys := vfs.NewMem()
	observed := 0
	l, _, err := Open(Options{FS: fsys, Dir: dir, SegmentSize: 1024, OnSync: func(time.Duration) { observed++ }})
	must(t, err)
	for i := uint64(1); i <= 50; i++ {
		must(t, l.AppendEntries(ents(i, i, 1, 100)))
		must(t, l.Sync())
	}
	// One per Sync plus one per segment switch.
	if got := l.Syncs(); got != uint64(observed) || got <= 50 {
		t.Fatalf("Syncs = %d, observed %d, want > 50 and equal", got, observed)
	}
	if l.BytesWritten() < 50*100 {
		t.Fatalf("BytesWritten = %d", l.BytesWritten())
	}
	must(t, l.Close())
}

// TestZeroAhead: with Options.ZeroAhead the zeros ahead of the records are
// written, topped up as the records advance, never over a record, and a
// crash at any point leaves a log recovery reads as without them.
func TestZeroAhead(t *testing.T) {
	const ahead, segSize = 4096, 1 << 16
	fsys := vfs.NewMem()
	opts := Options{FS: fsys, Dir: dir, SegmentSize: segSize, ZeroAhead: ahead}
	l, _, err := Open(opts)
	must(t, err)
	rng := rand.New(rand.NewSource(7))
	var clones []*vfs.Mem
	next := uint64(1)
	for range 60 {
		n := uint64(1 + rng.Intn(6))
		must(t, l.AppendEntries(ents(next, next+n-1, 1, 100+rng.Intn(900))))
		next += n
		must(t, l.Flush())
		if rng.Intn(3) == 0 {
			must(t, l.Sync())
		}
		end, err := l.cur.(vfs.DataFinder).DataEnd()
		must(t, err)
		if end > l.curOff+ahead || end < min(l.curOff+ahead/2, l.curSize) {
			t.Fatalf("records end at %d in a segment of %d, the file's data at %d: want zeros written to within [%d, %d]",
				l.curOff, l.curSize, end, min(l.curOff+ahead/2, l.curSize), l.curOff+ahead)
		}
		clones = append(clones, fsys.CrashClone(rng, 0.5))
	}
	if l.Segments() < 2 {
		t.Fatalf("%d segments, the test needs a switch", l.Segments())
	}
	must(t, l.Close())
	_, st := open(t, fsys, segSize)
	checkEntries(t, st, 1, next-1)
	for k, c := range clones {
		logger, _ := logCapture()
		l, st, err := Open(Options{FS: c, Dir: dir, SegmentSize: segSize, ZeroAhead: ahead, Logger: logger})
		if err != nil {
			t.Fatalf("crash clone %d: %v", k, err)
		}
		if st.LastIndex() > next-1 {
			t.Fatalf("crash clone %d replays up to %d, more than was written", k, st.LastIndex())
		}
		must(t, l.Close())
	}
}
