package segment

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

const segmentExt = ".seg"

func segmentName(seq uint64) string { return fmt.Sprintf("%016x%s", seq, segmentExt) }

func parseSegmentName(name string) (uint64, bool) {
	if !strings.HasSuffix(name, segmentExt) || len(name) != 16+len(segmentExt) {
		return 0, false
	}
	seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 16, 64)
	return seq, err == nil
}

// State is what replaying the segments rebuilds.
type State struct {
	// HardState is the last one recorded, nil if none was.
	HardState *raftpb.HardState
	// Snapshot is the latest snapshot recorded (created or installed), nil
	// if none was.
	Snapshot *raftpb.Snapshot
	// CompactIndex and CompactTerm are the index and term of the entry the
	// log starts after (0, 0 for a log that was never compacted).
	CompactIndex, CompactTerm uint64
	// Entries are the entries after CompactIndex, contiguous.
	Entries []*raftpb.Entry
	// Cut describes the torn tail Open cut, nil if there was none.
	Cut *Cut
}

// LastIndex is the index of the last entry, or CompactIndex without entries.
func (s *State) LastIndex() uint64 {
	if len(s.Entries) == 0 {
		return s.CompactIndex
	}
	return s.Entries[len(s.Entries)-1].GetIndex()
}

// replayer applies records in log order.
type replayer struct {
	st State
	// gapBelow: entries at or below it went missing (their segment was
	// removed after a compaction recorded later in the log); replay ends
	// corrupt unless such a compaction covers them.
	gapBelow uint64
}

func (r *replayer) apply(typ byte, payload []byte) error {
	switch typ {
	case TypeEntry:
		e := &raftpb.Entry{}
		if err := proto.Unmarshal(payload, e); err != nil {
			return err
		}
		i := e.GetIndex()
		if i <= r.st.CompactIndex {
			return nil
		}
		last := r.st.LastIndex()
		switch {
		case i > last+1 || len(r.st.Entries) > 0 && i < r.st.Entries[0].GetIndex():
			// The entries before i are missing: a later compaction must
			// cover them (their segment was removed), or finish reports
			// the hole.
			r.st.Entries = r.st.Entries[:0]
			r.gapBelow = i - 1
		case len(r.st.Entries) > 0 && i <= last:
			// Raft overwrote a conflicting suffix: the later record wins.
			r.st.Entries = r.st.Entries[:i-r.st.Entries[0].GetIndex()]
		}
		r.st.Entries = append(r.st.Entries, e)
	case TypeHardState:
		hs := &raftpb.HardState{}
		if err := proto.Unmarshal(payload, hs); err != nil {
			return err
		}
		r.st.HardState = hs
	case TypeSnapshot, TypeSnapshotInstall:
		s := &raftpb.Snapshot{}
		if err := proto.Unmarshal(payload, s); err != nil {
			return err
		}
		idx := s.GetMetadata().GetIndex()
		if typ == TypeSnapshotInstall {
			r.st.Snapshot = s
			r.st.Entries = r.st.Entries[:0]
			r.st.CompactIndex, r.st.CompactTerm = idx, s.GetMetadata().GetTerm()
			r.gapBelow = 0
			return nil
		}
		if r.st.Snapshot == nil || idx >= r.st.Snapshot.GetMetadata().GetIndex() {
			r.st.Snapshot = s
		}
	case TypeCompact:
		if len(payload) != 16 {
			return fmt.Errorf("compact record of %d bytes", len(payload))
		}
		idx, term := binary.LittleEndian.Uint64(payload), binary.LittleEndian.Uint64(payload[8:])
		if idx <= r.st.CompactIndex {
			return nil
		}
		n := 0
		for n < len(r.st.Entries) && r.st.Entries[n].GetIndex() <= idx {
			n++
		}
		r.st.Entries = append([]*raftpb.Entry(nil), r.st.Entries[n:]...)
		r.st.CompactIndex, r.st.CompactTerm = idx, term
	}
	return nil
}

// segFile is one segment as found on open.
type segFile struct {
	seq      uint64
	path     string
	size     int64  // of the file
	data     []byte // what replay read of the file: all of it, or what lies before its zeros
	written  int64  // the file reads as zeros from here to its end
	end      int64  // offset after the last valid record
	maxIndex uint64 // highest entry index recorded in it
	// Which kinds of state record it holds: a segment that lacks one the
	// log has is missing part of the state it must start with.
	hasHardState, hasSnapshot, hasBase bool
}

func listSegments(fsys vfs.FS, dir string) ([]*segFile, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segFile
	for _, n := range names {
		if seq, ok := parseSegmentName(n); ok {
			segs = append(segs, &segFile{seq: seq, path: filepath.Join(dir, n)})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	return segs, nil
}

// readSegment reads the file at path up to where it holds only zeros and
// returns that part and the file's size. Where the file can say where its
// data ends (vfs.DataFinder), the preallocated zeros after it are not read,
// so an open costs what was written, not the segment's size; elsewhere the
// whole file is read. The zeros at the end of what was read are found by
// comparing it with zeros in large blocks.
func readSegment(fsys vfs.FS, path string) (written []byte, size int64, err error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if size, err = f.Size(); err != nil {
		return nil, 0, err
	}
	n := size
	if df, ok := f.(vfs.DataFinder); ok {
		end, err := df.DataEnd()
		if err != nil {
			return nil, 0, err
		}
		n = min(end, size)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, 0, err
	}
	return b[:zerosFrom(b)], size, nil
}

// whole extends data with the zeros the file holds after it, to the size
// of the file.
func whole(data []byte, size int64) []byte {
	return append(data, make([]byte, size-int64(len(data)))...)
}

// Cut describes the torn tail Open cut from a log: what a crash left of
// writes that were never synced.
type Cut struct {
	// Path is the segment cut, at Offset: the first byte that was not part
	// of a valid record.
	Path   string
	Offset int64
	// Bytes counts what was discarded: the bytes from Offset to the end of
	// what was ever written to the segment (the rest is preallocated zeros).
	Bytes int64
	// Why says what was found at Offset.
	Why string
}

// damage is a torn tail scan found: where the valid log ends before the
// written data does.
type damage struct {
	seg   int
	off   int64
	bytes int64 // written bytes from off on
	why   string
}

// scan replays every segment into r and returns the torn tail to cut, if
// the valid log ends before the last segment's written data does. What a
// crash cannot explain is an error wrapping logbackends.ErrCorrupt. It reads
// segments but never changes them.
//
// Segments are read one at a time, and each is dropped once replayed.
func scan(fsys vfs.FS, segs []*segFile, r *replayer) (*damage, error) {
	for i, s := range segs {
		d, err := scanSegment(fsys, s, r, i == len(segs)-1)
		if err != nil {
			return nil, err
		}
		if d != nil {
			d.seg = i
			return d, nil
		}
	}
	return nil, nil
}

// scanSegment reads s, replays its valid records into r and classifies
// what follows them (see classify).
func scanSegment(fsys vfs.FS, s *segFile, r *replayer, last bool) (*damage, error) {
	var err error
	if s.data, s.size, err = readSegment(fsys, s.path); err != nil {
		return nil, err
	}
	defer func() { s.data = nil }()
	s.written = int64(len(s.data))
	if s.end, err = replaySegment(s, r, 0); err != nil {
		return nil, err
	}
	if !zeroFrom(s.data, s.written, s.end) {
		// Written bytes follow the valid records: a record reaching into
		// the zeros (a payload ending in zeros, or a torn one) or damage.
		// Both are judged on the whole file, as the recovery rules read
		// it.
		s.data = whole(s.data, s.size)
		if s.end, err = replaySegment(s, r, s.end); err != nil {
			return nil, err
		}
	}
	d, err := classify(s, last)
	if d != nil {
		d.bytes = max(writtenEnd(s.data, s.written)-d.off, 0)
	}
	return d, err
}

// replaySegment applies s's valid records, from off to the first invalid
// one, and returns the offset of that one.
func replaySegment(s *segFile, r *replayer, off int64) (int64, error) {
	for {
		typ, payload, size, ok := parseAt(s.data, off)
		if !ok {
			return off, nil
		}
		if err := r.apply(typ, payload); err != nil {
			return 0, fmt.Errorf("%w: %s at offset %d: %v", logbackends.ErrCorrupt, s.path, off, err)
		}
		switch typ {
		case TypeEntry:
			s.maxIndex = max(s.maxIndex, r.st.LastIndex())
		case TypeHardState:
			s.hasHardState = true
		case TypeSnapshot:
			s.hasSnapshot = true
		case TypeSnapshotInstall:
			s.hasSnapshot, s.hasBase = true, true
		case TypeCompact:
			s.hasBase = true
		}
		off += size
	}
}

// classify decides what the bytes at s.end, where s's valid records end,
// are: nothing (nil, nil), a torn tail to cut (only in the last segment,
// which is the only one with writes no sync covered: every earlier one was
// synced whole before the next was created), or corruption.
//
// Under the hardware model (doc.go) a crash leaves each sector of an
// unsynced write either written or zero, so in the last segment:
//   - zeros to the end of the file are the normal end;
//   - a zeroed header with written bytes after it is a write that was lost
//     while later ones landed (the page cache writes back in any order);
//   - a record with a zeroed sector's share is a torn write;
//
// and anything else, a record whose written sectors fail its checksum, is
// damage no crash explains.
//
// s.data is the whole file or, when only zeros follow s.end, the file up to
// s.written; bytes from s.written on are zeros, so no check reads them.
func classify(s *segFile, last bool) (*damage, error) {
	buf, off := s.data, s.end
	if off+headerSize > int64(len(buf)) {
		// Too few bytes for a record: the end of the file, unless they
		// were written (no record ever starts there).
		if zeroFrom(buf, s.written, off) {
			return nil, nil
		}
		return nil, corruptAt(s.path, off, "written bytes after the last record, too few to be one")
	}
	if isZeroHeader(buf, off) {
		switch {
		case zeroFrom(buf, s.written, off+headerSize):
			return nil, nil
		case last:
			return &damage{off: off, why: "a zeroed record with written bytes after it: unsynced writes that landed out of order"}, nil
		case validRecordFrom(buf, s.written, off):
			return nil, corruptAt(s.path, off, "zeroed record before valid ones in a segment that was synced whole")
		default:
			return nil, corruptAt(s.path, off, "written bytes after the end of a segment that was synced whole")
		}
	}
	torn := isTorn(buf, s.written, off)
	switch {
	case torn && last:
		return &damage{off: off, why: "a torn record: part of it reads as zero, as a write a crash cut short"}, nil
	case torn:
		return nil, corruptAt(s.path, off, "torn record in a segment that was synced whole")
	default:
		return nil, corruptAt(s.path, off, "record fails its checksum or framing, and no crash leaves a record so")
	}
}

func corruptAt(path string, off int64, why string) error {
	return fmt.Errorf("%w: %s at offset %d: %s", logbackends.ErrCorrupt, path, off, why)
}

// finish checks the replayed log is whole and returns its state.
func (r *replayer) finish(dir string) (*State, error) {
	st := r.st
	if len(st.Entries) > 0 && st.Entries[0].GetIndex() != st.CompactIndex+1 {
		return nil, fmt.Errorf("%w: %s: entries %d..%d are missing", logbackends.ErrCorrupt,
			dir, st.CompactIndex+1, st.Entries[0].GetIndex()-1)
	}
	if r.gapBelow > st.CompactIndex && len(st.Entries) == 0 {
		return nil, fmt.Errorf("%w: %s: entries up to %d are missing", logbackends.ErrCorrupt, dir, r.gapBelow)
	}
	return &st, nil
}

// RecordInfo locates one valid record.
type RecordInfo struct {
	Offset int64
	Size   int64 // header, payload and padding
	Type   byte
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Path    string
	Size    int64
	Records []RecordInfo // the valid records from the start, up to the first invalid one
}

// Inspect lists the segments in dir and the valid records at the start of
// each, without changing anything: for tests that damage a log on purpose,
// and for tools.
func Inspect(fsys vfs.FS, dir string) ([]SegmentInfo, error) {
	segs, err := listSegments(fsys, dir)
	if err != nil {
		return nil, err
	}
	out := make([]SegmentInfo, 0, len(segs))
	for _, s := range segs {
		b, size, err := readSegment(fsys, s.path)
		if err != nil {
			return nil, err
		}
		b = whole(b, size)
		info := SegmentInfo{Path: s.path, Size: size}
		for off := int64(0); ; {
			typ, _, size, ok := parseAt(b, off)
			if !ok {
				break
			}
			info.Records = append(info.Records, RecordInfo{Offset: off, Size: size, Type: typ})
			off += size
		}
		out = append(out, info)
	}
	return out, nil
}
