package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// DefaultSegmentSize is etcd's WAL segment size.
const DefaultSegmentSize = 64 << 20

// DefaultZeroAhead is the Options.ZeroAhead the file-backed log backends
// use: one extent conversion per MiB of records instead of one per sync.
const DefaultZeroAhead = 1 << 20

// maxRetainedBuf bounds the write buffer kept between writes, so one large
// snapshot does not pin its size in memory for the life of the log.
const maxRetainedBuf = 4 << 20

// Options configure a Log.
type Options struct {
	FS  vfs.FS // nil means vfs.OS
	Dir string
	// SegmentSize is the preallocated size of each segment; a record larger
	// than it gets a segment of its own, as large as it needs.
	SegmentSize int64
	// OnSync, if set, is called after every successful fdatasync with how
	// long it took, including the ones a segment switch makes.
	OnSync func(time.Duration)
	// Logger receives the report of a torn tail Open cuts; nil means
	// slog.Default().
	Logger *slog.Logger
	// ZeroAhead, when positive, makes Flush keep the zeros of the
	// segment written (not merely preallocated) that far ahead of the
	// records, topping them up once less than half is left. A file system
	// that preallocates unwritten extents (ext4, XFS) must otherwise
	// convert the extent under every record at its fdatasync, a journal
	// commit per sync; with the zeros written, one conversion covers
	// ZeroAhead bytes of records. Zeros are what a preallocated segment
	// reads as anyway, so recovery is unchanged.
	ZeroAhead int64
}

// Log is a segmented, append-only record log. It has one writer: its
// methods must not be called concurrently, except BytesWritten and Syncs.
//
// Appends go to an in-memory buffer; Flush hands it to the file system in
// one write, Sync also waits for fdatasync. After any I/O error the Log
// refuses further work and returns that error: the state of the file after
// a failed write or sync is unknown, so the Log must be closed and reopened
// (replay finds what really is on disk).
type Log struct {
	opts    Options
	fs      vfs.FS
	segs    []*segFile // live segments in order; the last one is written
	cur     vfs.File
	curOff  int64 // where the next flush writes in cur
	curSize int64 // cur's preallocated size
	// zeroed is where the zeros Flush wrote ahead of the records in cur
	// end (Options.ZeroAhead); zeros is a buffer of them.
	zeroed  int64
	zeros   []byte
	buf     []byte
	failed  error
	marshal proto.MarshalOptions

	// What a new segment starts with, so every suffix of segments holds the
	// whole state and older segments can be removed after compaction.
	hs                  *raftpb.HardState
	snap                *raftpb.Snapshot
	compactIdx, compTrm uint64

	bytesWritten atomic.Uint64
	syncs        atomic.Uint64
}

// ErrFailed wraps the I/O error that stopped a Log.
var ErrFailed = errors.New("segment log stopped after an I/O error")

// Open replays the log in opts.Dir (creating the directory, durably, and a
// first segment if there is none), cuts a torn tail, and returns the log
// ready for appending with the state it holds. Corruption that a crash
// cannot explain is an error wrapping logbackends.ErrCorrupt naming file and
// offset. A cut is logged to opts.Logger and reported in State.Cut.
func Open(opts Options) (*Log, *State, error) {
	if opts.FS == nil {
		opts.FS = vfs.OS{}
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Log{opts: opts, fs: opts.FS}
	if err := mkdirDurable(l.fs, opts.Dir); err != nil {
		return nil, nil, fmt.Errorf("segment: create %s: %w", opts.Dir, err)
	}
	segs, err := listSegments(l.fs, opts.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("segment: list %s: %w", opts.Dir, err)
	}
	r := &replayer{}
	dmg, err := scan(l.fs, segs, r)
	if err != nil {
		return nil, nil, err
	}
	st, err := r.finish(opts.Dir)
	if err != nil {
		return nil, nil, err
	}
	if dmg != nil {
		if st.Cut, err = l.cut(segs[dmg.seg], dmg); err != nil {
			return nil, nil, err
		}
	}
	l.segs = segs
	l.hs, l.snap, l.compactIdx, l.compTrm = st.HardState, st.Snapshot, st.CompactIndex, st.CompactTerm
	if len(segs) == 0 {
		if err := l.newSegment(0, opts.SegmentSize); err != nil {
			return nil, nil, err
		}
		return l, st, nil
	}
	s := segs[len(segs)-1]
	if l.cur, err = l.fs.Open(s.path); err != nil {
		return nil, nil, fmt.Errorf("segment: open %s: %w", s.path, err)
	}
	if l.curSize, err = l.cur.Size(); err != nil {
		l.cur.Close()
		return nil, nil, fmt.Errorf("segment: size of %s: %w", s.path, err)
	}
	l.curOff, l.zeroed = s.end, s.end
	if l.lacksState(s) {
		// A crash lost the state records the segment started with (they
		// are written with its first records, after its creation was
		// synced). Once the segments before it are removed, replay would
		// come back without them: write them again, ahead of what is
		// appended next.
		if err := l.restoreState(s); err != nil {
			l.cur.Close()
			return nil, nil, err
		}
	}
	return l, st, nil
}

// restoreState buffers the state records for the segment s being
// written, or starts the next segment (which begins with them) when they
// do not fit in what is left of s.
func (l *Log) restoreState(s *segFile) error {
	if err := l.encodeState(); err != nil {
		return err
	}
	if l.curOff+int64(len(l.buf)) <= l.curSize {
		return nil
	}
	l.buf = l.buf[:0]
	if err := l.cur.Close(); err != nil {
		return fmt.Errorf("segment: close %s: %w", s.path, err)
	}
	return l.newSegment(s.seq+1, max(l.opts.SegmentSize, l.stateSize()))
}

// lacksState reports whether segment s holds no record of a part of the
// state the log has.
func (l *Log) lacksState(s *segFile) bool {
	return l.hs != nil && !s.hasHardState || l.snap != nil && !s.hasSnapshot || l.compactIdx > 0 && !s.hasBase
}

// mkdirDurable creates dir and any missing parents, then syncs each
// directory it created and the parent of the first one, so that the
// names survive a power loss. An existing dir costs one Stat.
func mkdirDurable(fsys vfs.FS, dir string) error {
	var created []string // deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := fsys.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range append(created, filepath.Dir(created[len(created)-1])) {
		if err := fsys.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// cut discards the torn tail scan found in the last segment s: it is cut at
// the damage and zero-filled again (appends must land on zeros for the next
// recovery to tell torn from corrupt), synced, and the cut logged.
func (l *Log) cut(s *segFile, d *damage) (*Cut, error) {
	c := &Cut{Path: s.path, Offset: d.off, Bytes: d.bytes, Why: d.why}
	f, err := l.fs.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", s.path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err == nil {
		err = f.Truncate(d.off)
	}
	if err == nil {
		err = f.Preallocate(size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("segment: cut torn tail of %s at offset %d: %w", s.path, d.off, err)
	}
	s.end = d.off
	l.opts.Logger.Warn("segment log: cut a torn tail, writes a crash left unsynced",
		"file", c.Path, "offset", c.Offset, "bytes", c.Bytes, "why", c.Why)
	return c, nil
}

// newSegment creates, preallocates and durably names the next segment; the
// state records every segment starts with are buffered for the next flush.
func (l *Log) newSegment(seq uint64, size int64) error {
	path := filepath.Join(l.opts.Dir, segmentName(seq))
	f, err := l.fs.Create(path)
	if err == nil {
		err = f.Preallocate(size)
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = l.fs.SyncDir(l.opts.Dir)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return l.fail(fmt.Errorf("segment: create %s: %w", path, err))
	}
	l.segs = append(l.segs, &segFile{seq: seq, path: path})
	l.cur, l.curOff, l.curSize, l.zeroed = f, 0, size, 0
	return l.encodeState()
}

// encodeState buffers the records of the current state (snapshot,
// compaction point, HardState) that every segment starts with.
func (l *Log) encodeState() error {
	if l.snap != nil {
		if err := l.encodeProto(TypeSnapshot, l.snap); err != nil {
			return err
		}
	}
	if l.compactIdx > 0 {
		l.encodeCompact(l.compactIdx, l.compTrm)
	}
	if l.hs != nil {
		return l.encodeProto(TypeHardState, l.hs)
	}
	return nil
}

func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = err
	}
	return err
}

func (l *Log) check() error {
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	return nil
}

func (l *Log) encodeProto(typ byte, m proto.Message) error {
	start := len(l.buf)
	l.buf = beginRecord(l.buf, typ)
	b, err := l.marshal.MarshalAppend(l.buf, m)
	if err != nil {
		l.buf = l.buf[:start]
		return fmt.Errorf("segment: encode record type %d: %w", typ, err)
	}
	l.buf = endRecord(b, start)
	return nil
}

func (l *Log) encodeCompact(index, term uint64) {
	start := len(l.buf)
	l.buf = beginRecord(l.buf, TypeCompact)
	l.buf = binary.LittleEndian.AppendUint64(l.buf, index)
	l.buf = binary.LittleEndian.AppendUint64(l.buf, term)
	l.buf = endRecord(l.buf, start)
}

// fit is called after a record was encoded at buf[start:]: if the record
// does not fit in the current segment, it is moved to a new one.
func (l *Log) fit(start int) error {
	if l.curOff+int64(len(l.buf)) <= l.curSize {
		return nil
	}
	rec := append([]byte(nil), l.buf[start:]...)
	l.buf = l.buf[:start]
	if err := l.Sync(); err != nil {
		return err
	}
	if err := l.cur.Close(); err != nil {
		return l.fail(fmt.Errorf("segment: close %s: %w", l.cur.Name(), err))
	}
	seq := l.segs[len(l.segs)-1].seq + 1
	if err := l.newSegment(seq, max(l.opts.SegmentSize, int64(len(rec))+int64(len(l.buf))+l.stateSize())); err != nil {
		return err
	}
	l.buf = append(l.buf, rec...)
	return nil
}

// stateSize bounds the state records a new segment starts with.
func (l *Log) stateSize() int64 {
	n := int64(3 * (headerSize + align))
	n += int64(proto.Size(l.snap)) + int64(proto.Size(l.hs)) + 16
	return n
}

// AppendEntries buffers one record per entry.
func (l *Log) AppendEntries(ents []*raftpb.Entry) error {
	if err := l.check(); err != nil {
		return err
	}
	for _, e := range ents {
		start := len(l.buf)
		if err := l.encodeProto(TypeEntry, e); err != nil {
			return err
		}
		if err := l.fit(start); err != nil {
			return err
		}
		if s := l.segs[len(l.segs)-1]; e.GetIndex() > s.maxIndex {
			s.maxIndex = e.GetIndex()
		}
	}
	return nil
}

// AppendEntryBytes buffers the record of one entry already encoded: enc
// is the protobuf encoding of a raftpb.Entry whose index is i. A writer
// that holds its entries encoded (the adr backend's ring records) spares a
// second encoding; the record is the one AppendEntries writes.
func (l *Log) AppendEntryBytes(i uint64, enc []byte) error {
	if err := l.check(); err != nil {
		return err
	}
	start := len(l.buf)
	l.buf = beginRecord(l.buf, TypeEntry)
	l.buf = endRecord(append(l.buf, enc...), start)
	if err := l.fit(start); err != nil {
		return err
	}
	if s := l.segs[len(l.segs)-1]; i > s.maxIndex {
		s.maxIndex = i
	}
	return nil
}

// AppendHardState buffers a HardState record.
func (l *Log) AppendHardState(hs *raftpb.HardState) error {
	if err := l.check(); err != nil {
		return err
	}
	start := len(l.buf)
	if err := l.encodeProto(TypeHardState, hs); err != nil {
		return err
	}
	l.hs = hs
	return l.fit(start)
}

// AppendSnapshot buffers a snapshot record. install says it came from a
// leader and replaces the log; otherwise it was taken locally and the log
// is kept.
func (l *Log) AppendSnapshot(snap *raftpb.Snapshot, install bool) error {
	if err := l.check(); err != nil {
		return err
	}
	typ := TypeSnapshot
	if install {
		typ = TypeSnapshotInstall
	}
	start := len(l.buf)
	if err := l.encodeProto(typ, snap); err != nil {
		return err
	}
	l.snap = snap
	if install {
		l.compactIdx, l.compTrm = snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	}
	return l.fit(start)
}

// AppendCompact buffers a record saying the log now starts after index,
// whose entry has term.
func (l *Log) AppendCompact(index, term uint64) error {
	if err := l.check(); err != nil {
		return err
	}
	start := len(l.buf)
	l.encodeCompact(index, term)
	l.compactIdx, l.compTrm = index, term
	return l.fit(start)
}

// Buffered returns how many bytes of records wait for the next Flush.
func (l *Log) Buffered() int { return len(l.buf) }

// Flush writes the buffered records with one write call. They are not
// durable until Sync.
func (l *Log) Flush() error {
	if err := l.check(); err != nil {
		return err
	}
	if len(l.buf) == 0 {
		return nil
	}
	if err := l.zeroAhead(l.curOff + int64(len(l.buf))); err != nil {
		return err
	}
	n, err := l.cur.WriteAt(l.buf, l.curOff)
	l.bytesWritten.Add(uint64(n))
	if err != nil {
		return l.fail(fmt.Errorf("segment: write %d bytes to %s at offset %d: %w", len(l.buf), l.cur.Name(), l.curOff, err))
	}
	l.curOff += int64(len(l.buf))
	l.segs[len(l.segs)-1].end = l.curOff
	if cap(l.buf) > maxRetainedBuf {
		l.buf = nil
	} else {
		l.buf = l.buf[:0]
	}
	return nil
}

// zeroAhead writes zeros after end, where the records being flushed end,
// when less than half of Options.ZeroAhead is left, up to ZeroAhead past
// end (or the end of the segment). They go to the file system before the
// records and after everything already written: the records never land
// under them.
func (l *Log) zeroAhead(end int64) error {
	ahead := l.opts.ZeroAhead
	if ahead <= 0 || l.zeroed >= end+ahead/2 {
		return nil
	}
	from, to := max(l.zeroed, end), min(l.curSize, end+ahead)
	if to <= from {
		return nil
	}
	if int64(len(l.zeros)) < to-from {
		l.zeros = make([]byte, ahead)
	}
	if _, err := l.cur.WriteAt(l.zeros[:to-from], from); err != nil {
		return l.fail(fmt.Errorf("segment: write zeros to %s at offset %d: %w", l.cur.Name(), from, err))
	}
	l.zeroed = to
	return nil
}

// Sync flushes and waits until everything appended is on stable storage.
func (l *Log) Sync() error {
	if err := l.Flush(); err != nil {
		return err
	}
	start := time.Now()
	if err := l.cur.Sync(); err != nil {
		return l.fail(fmt.Errorf("segment: sync %s: %w", l.cur.Name(), err))
	}
	l.syncs.Add(1)
	if l.opts.OnSync != nil {
		l.opts.OnSync(time.Since(start))
	}
	return nil
}

// RemoveBefore removes the oldest segments whose entries all have indexes
// at or below index (the compaction point, which must already be durable in
// the log). The segment being written is never removed.
func (l *Log) RemoveBefore(index uint64) error {
	if err := l.check(); err != nil {
		return err
	}
	n := 0
	for n < len(l.segs)-1 && l.segs[n].maxIndex <= index {
		if err := l.fs.Remove(l.segs[n].path); err != nil {
			return l.fail(fmt.Errorf("segment: remove %s: %w", l.segs[n].path, err))
		}
		n++
	}
	if n == 0 {
		return nil
	}
	l.segs = append([]*segFile(nil), l.segs[n:]...)
	if err := l.fs.SyncDir(l.opts.Dir); err != nil {
		return l.fail(fmt.Errorf("segment: sync dir %s: %w", l.opts.Dir, err))
	}
	return nil
}

// Segments returns how many segment files the log has.
func (l *Log) Segments() int { return len(l.segs) }

// BytesWritten returns the bytes handed to the file system so far. It may
// be called concurrently with the writer.
func (l *Log) BytesWritten() uint64 { return l.bytesWritten.Load() }

// Syncs returns the fdatasync calls made so far. It may be called
// concurrently with the writer.
func (l *Log) Syncs() uint64 { return l.syncs.Load() }

// Close syncs what was appended and closes the current segment. After a
// failure it only closes, and returns the failure.
func (l *Log) Close() error {
	err := l.check()
	if err == nil {
		err = l.Sync()
	}
	if cerr := l.cur.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("segment: close %s: %w", l.cur.Name(), cerr)
	}
	return err
}
