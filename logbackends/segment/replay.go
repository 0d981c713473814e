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
		case i > last+1:
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
	data     []byte // whole file, released after replay
	end      int64  // offset after the last valid record
	maxIndex uint64 // highest entry index recorded in it
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

func readWhole(fsys vfs.FS, path string) ([]byte, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// damage says where replay stopped early: segment index and offset, and
// whether what is there is a torn write (cut) or corruption (reported).
type damage struct {
	seg int
	off int64
}

// scan replays every segment into r and returns where the valid log ends
// if it ends before the last segment's written data does. It reads segments
// but never changes them.
func scan(fsys vfs.FS, segs []*segFile, r *replayer) (*damage, error) {
	for _, s := range segs {
		b, err := readWhole(fsys, s.path)
		if err != nil {
			return nil, err
		}
		s.data = b
	}
	defer func() {
		for _, s := range segs {
			s.data = nil
		}
	}()
	laterValid := func(i int) bool {
		for _, s := range segs[i+1:] {
			if validRecordFrom(s.data, 0) {
				return true
			}
		}
		return false
	}
	for i, s := range segs {
		buf, off := s.data, int64(0)
		for {
			typ, payload, size, ok := parseAt(buf, off)
			if !ok {
				break
			}
			if err := r.apply(typ, payload); err != nil {
				return nil, fmt.Errorf("%w: %s at offset %d: %v", logbackends.ErrCorrupt, s.path, off, err)
			}
			if typ == TypeEntry && r.st.LastIndex() > s.maxIndex {
				s.maxIndex = r.st.LastIndex()
			}
			off += size
		}
		s.end = off
		last := i == len(segs)-1
		if off+headerSize > int64(len(buf)) || isZeroHeader(buf, off) {
			// The segment ends here, unless valid records follow a hole:
			// in the last segment a hole is unsynced writes landing out of
			// order; in an earlier one, which was synced whole before the
			// next was created, it is damage.
			if off+headerSize <= int64(len(buf)) && validRecordFrom(buf, off) {
				if !last {
					return nil, corruptAt(s.path, off, "zeroed record before valid ones")
				}
				return &damage{seg: i, off: off}, nil
			}
			continue
		}
		torn := isTorn(buf, off)
		after := validRecordFrom(buf, off+align) || laterValid(i)
		switch {
		case torn && last, !after:
			return &damage{seg: i, off: off}, nil
		case torn:
			return nil, corruptAt(s.path, off, "torn record in a segment that was synced whole")
		default:
			return nil, corruptAt(s.path, off, "record fails its checksum and valid records follow")
		}
	}
	return nil, nil
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
		b, err := readWhole(fsys, s.path)
		if err != nil {
			return nil, err
		}
		info := SegmentInfo{Path: s.path, Size: int64(len(b))}
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
