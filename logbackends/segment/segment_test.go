package segment

import (
	"bytes"
	"errors"
	"fmt"
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

func TestTornTail(t *testing.T) {
	// Each case damages the log after entries 1..20 were written in one
	// segment and returns the last entry that must survive.
	tests := []struct {
		name string
		hurt func(t *testing.T, fsys vfs.FS, seg SegmentInfo) uint64
	}{
		{"garbage after the last record", func(t *testing.T, fsys vfs.FS, seg SegmentInfo) uint64 {
			end := seg.Records[len(seg.Records)-1]
			hurtBytes(t, fsys, seg.Path, end.Offset+end.Size, bytes.Repeat([]byte{0xFF}, 40))
			return 20
		}},
		{"partial copy of a record after the last", func(t *testing.T, fsys vfs.FS, seg SegmentInfo) uint64 {
			end := seg.Records[len(seg.Records)-1]
			b := make([]byte, end.Size)
			f, _ := fsys.Open(seg.Path)
			f.ReadAt(b, end.Offset)
			f.Close()
			hurtBytes(t, fsys, seg.Path, end.Offset+end.Size, b[:end.Size/2])
			return 20
		}},
		{"last record zeroed past its header", func(t *testing.T, fsys vfs.FS, seg SegmentInfo) uint64 {
			end := seg.Records[len(seg.Records)-1]
			hurtBytes(t, fsys, seg.Path, end.Offset+headerSize, make([]byte, end.Size-headerSize))
			return 19
		}},
		{"last record with a flipped bit", func(t *testing.T, fsys vfs.FS, seg SegmentInfo) uint64 {
			end := seg.Records[len(seg.Records)-1]
			hurtBytes(t, fsys, seg.Path, end.Offset+headerSize+3, []byte{0x80})
			return 19
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			l, _ := open(t, fsys, 1<<16)
			must(t, l.AppendEntries(ents(1, 20, 1, 50)))
			must(t, l.Close())
			segs, err := Inspect(fsys, dir)
			must(t, err)
			last := tt.hurt(t, fsys, segs[0])

			l, st := open(t, fsys, 1<<16)
			checkEntries(t, st, 1, last)
			// The cut tail must not confuse the next recovery.
			must(t, l.AppendEntries(ents(last+1, last+5, 2, 50)))
			must(t, l.Close())
			_, st = open(t, fsys, 1<<16)
			checkEntries(t, st, 1, last+5)
		})
	}
}

func TestCorruptionInTheMiddle(t *testing.T) {
	tests := []struct {
		name   string
		record int // which record of the first segment to damage
		at     int64
		b      []byte
	}{
		{"payload bit flip", 5, headerSize + 7, []byte{0x55}},
		{"checksum overwritten", 2, 0, []byte{1, 2, 3, 4}},
		{"length overwritten", 8, 8, []byte{0xEE, 0xEE}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			l, _ := open(t, fsys, 1<<16)
			must(t, l.AppendEntries(ents(1, 20, 1, 50)))
			must(t, l.Close())
			segs, err := Inspect(fsys, dir)
			must(t, err)
			rec := segs[0].Records[tt.record]
			hurtBytes(t, fsys, segs[0].Path, rec.Offset+tt.at, tt.b)

			_, _, err = Open(Options{FS: fsys, Dir: dir, SegmentSize: 1 << 16})
			if !errors.Is(err, logbackends.ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			want := fmt.Sprintf("%s at offset %d", segs[0].Path, rec.Offset)
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		})
	}
}

func TestHoleInUnsyncedTailIsCut(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := open(t, fsys, 1<<16)
	must(t, l.AppendEntries(ents(1, 10, 1, 50)))
	must(t, l.Close())
	segs, _ := Inspect(fsys, dir)
	// Records 11 and 12 as a later unsynced write that landed, with the
	// write before it (entry 10's record) lost.
	rec := segs[0].Records[9]
	b := make([]byte, rec.Size)
	f, _ := fsys.Open(segs[0].Path)
	f.ReadAt(b, rec.Offset)
	f.Close()
	hurtBytes(t, fsys, segs[0].Path, rec.Offset+rec.Size, b)
	hurtBytes(t, fsys, segs[0].Path, rec.Offset, make([]byte, rec.Size))
	_, st := open(t, fsys, 1<<16)
	checkEntries(t, st, 1, 9)
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
