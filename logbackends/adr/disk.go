package adrlog

import (
	"encoding/binary"
	"fmt"
	"sync"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// diskLog is the segment log the drainer copies the ring to. It keeps no
// read mirror: the backend's one mirror serves raft, and the disk is read
// back only by replay on Open. The drainer copies the ring's records as
// they are encoded there, so an entry is encoded once, into the ring.
//
// Its users take turns: the drainer while it holds a batch, the writer
// (Save's direct path, CreateSnapshot, Compact, Close, recovery) only
// with the drainer quiesced; mu makes that safe whatever the turn.
type diskLog struct {
	mu       sync.Mutex
	log      *segment.Log
	cut      *segment.Cut // the torn tail replay cut, nil if none
	emulated []string
}

// openDisk replays the segment log in env.Dir and returns it with what it
// holds.
func openDisk(env logbackends.Env, segmentSize int64) (*diskLog, *segment.State, error) {
	d := &diskLog{emulated: filelog.Emulated(env.FS)}
	log, st, err := segment.Open(segment.Options{
		FS: env.FS, Dir: env.Dir, SegmentSize: segmentSize, Logger: env.Log(),
		ZeroAhead: segment.DefaultZeroAhead,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: open %s: %w", Name, env.Dir, err)
	}
	d.log, d.cut = log, st.Cut
	return d, st, nil
}

// saveSynced writes a Save in log order (an installed snapshot, the
// entries, the HardState) and syncs it.
func (d *diskLog) saveSynced(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := filelog.AppendReady(d.log, hs, ents, snap); err != nil {
		return err
	}
	return d.log.Sync()
}

// drainWriteSize is how much of a batch the drainer hands the file system
// per write: few calls, and a buffer that stays below what the segment log
// keeps between writes.
const drainWriteSize = 1 << 20

// drainBatch writes the ring records of a batch of published Saves, one
// entry record per entry encoding they hold, then the last HardState among
// them, in writes of about drainWriteSize, and syncs once. Only the last
// HardState is written because the batch is durable on disk as a whole or
// not at all, as far as anyone relies on it: its ring space is released
// after this sync, and until then recovery takes the HardState from the
// ring.
func (d *diskLog) drainBatch(batch []item, payload func(item) ([]byte, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var hs *raftpb.HardState
	for _, it := range batch {
		p, err := payload(it)
		if err != nil {
			return err
		}
		if err := d.appendRecord(it, p); err != nil {
			return fmt.Errorf("ring record ending at %d: %w", it.end, err)
		}
		if d.log.Buffered() >= drainWriteSize {
			if err := d.log.Flush(); err != nil {
				return err
			}
		}
		if it.hs != nil {
			hs = it.hs
		}
	}
	if hs != nil {
		if err := d.log.AppendHardState(hs); err != nil {
			return err
		}
	}
	return d.log.Sync()
}

// appendRecord appends the entries of ring record p (encodeSave's
// format), whose first entry has index it.lo, without decoding them.
func (d *diskLog) appendRecord(it item, p []byte) error {
	next := func() ([]byte, error) {
		if len(p) < 4 {
			return nil, fmt.Errorf("%w: truncated length", logbackends.ErrCorrupt)
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(len(p)-4) < uint64(n) {
			return nil, fmt.Errorf("%w: length %d past the record's end", logbackends.ErrCorrupt, n)
		}
		b := p[4 : 4+n]
		p = p[4+n:]
		return b, nil
	}
	if _, err := next(); err != nil { // the HardState, which drainBatch writes decoded
		return err
	}
	if len(p) < 4 {
		return fmt.Errorf("%w: entry count truncated", logbackends.ErrCorrupt)
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	for k := range uint64(count) {
		enc, err := next()
		if err != nil {
			return err
		}
		if err := d.log.AppendEntryBytes(it.lo+k, enc); err != nil {
			return err
		}
	}
	return nil
}

// createSnapshot records a snapshot taken locally, synced.
func (d *diskLog) createSnapshot(snap *raftpb.Snapshot) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.log.AppendSnapshot(snap, false); err != nil {
		return err
	}
	return d.log.Sync()
}

// compact records that the log starts after index i (of term), syncs
// that, then removes the segments holding only entries at or below i. The
// sync comes first: a removed segment whose compaction record was lost
// would leave a hole at the start of the log.
func (d *diskLog) compact(i, term uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.log.AppendCompact(i, term); err != nil {
		return err
	}
	if err := d.log.Sync(); err != nil {
		return err
	}
	return d.log.RemoveBefore(i)
}

// close syncs what was written and closes the log.
func (d *diskLog) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Close()
}

// syncs and bytesWritten may be called concurrently with everything.
func (d *diskLog) syncs() uint64        { return d.log.Syncs() }
func (d *diskLog) bytesWritten() uint64 { return d.log.BytesWritten() }
