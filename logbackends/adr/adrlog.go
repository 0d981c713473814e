package adrlog

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// fenceChecker is the optional ability of a region whose Fence can fail
// (an msync fallback): a publish is not acknowledged past such a failure.
type fenceChecker interface {
	FenceErr() error
}

// Backend is the adr log backend. It implements logbackends.Backend.
type Backend struct {
	region adr.Region
	info   adr.Info
	ring   *adr.Ring
	// disk is the segment log the drainer writes; it keeps no mirror,
	// m is the only one.
	disk *diskLog
	// fs and dir hold the disk log and its binding record; bound is the
	// record of the ring the log is bound to, written again as clean by
	// Close.
	fs              vfs.FS
	dir             string
	cluster, member uint64
	bound           binding
	log             *slog.Logger
	// fullTimeout bounds how long a Save waits for ring space.
	fullTimeout time.Duration
	// skip leaves a step of the binding protocol out (tests only).
	skip bindStep

	mu sync.Mutex // the writer lock: Save, CreateSnapshot, Compact, Close
	m  *logbackends.Mirror
	// Storage is the mirror's read side, which serves raft.Storage.
	raft.Storage
	buf    []byte // writer-owned record buffer
	mo     proto.MarshalOptions
	closed atomic.Bool

	d drainer

	saves      atomic.Uint64
	entries    atomic.Uint64
	ringBytes  atomic.Uint64
	fullWaits  atomic.Uint64
	slowWaits  atomic.Uint64
	direct     atomic.Uint64
	publishes  latency.Histogram
	emulated   []string
	fenceCheck fenceChecker
}

var _ logbackends.Backend = (*Backend)(nil)

// Open opens the log in env.Dir and its region (cfg.OpenRegion, else
// cfg.Region). When the region holds the ring the log is bound to, the
// ring's records are laid over the disk segments, written and synced;
// then a ring with a new id is bound for this incarnation and the drainer
// starts. A region that does not hold the log's ring is refused with
// ErrRegionMismatch unless formatting it loses nothing (see doc.go) or
// cfg.RegionReset accepts the loss. env.Logger hears what the operator
// must know: an emulated region, a fallback taken, a loss accepted.
func Open(env logbackends.Env, cfg Config) (logbackends.Backend, error) {
	return open(env, cfg)
}

func open(env logbackends.Env, cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	region, err := openRegion(env.Dir, cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{region: region, info: region.Info(), fs: env.FS, dir: env.Dir,
		cluster: env.ClusterID, member: env.MemberID, log: env.Log(),
		fullTimeout: cfg.ringFullTimeout(), skip: cfg.skip}
	if b.fs == nil {
		b.fs = vfs.OS{}
	}
	b.fenceCheck, _ = region.(fenceChecker)
	disk, st, err := openDisk(env, cfg.SegmentSize)
	if err != nil {
		region.Close()
		return nil, err
	}
	b.disk = disk
	// The mirror starts as the disk log; recovery lays the ring's
	// records over both.
	if b.m, err = logbackends.RebuildMirror(st.HardState, st.Snapshot, st.CompactIndex, st.CompactTerm, st.Entries); err != nil {
		b.disk.close()
		region.Close()
		return nil, fmt.Errorf("%s: rebuild %s: %w", Name, env.Dir, err)
	}
	b.Storage = b.m
	if err := b.bindRing(cfg.RegionReset); err != nil {
		b.disk.close()
		region.Close()
		return nil, err
	}
	b.emulated = append([]string(nil), b.disk.emulated...)
	if b.info.Emulated {
		b.emulated = append(b.emulated, "adr-region:"+b.info.Kind)
	}
	if b.info.MediaLatency > 0 {
		b.emulated = append(b.emulated, "adr-media-latency:"+b.info.MediaLatency.String())
	}
	b.warnRegion(cfg.region(env.Dir).Kind)
	b.d.start(b)
	return b, nil
}

func openRegion(dir string, cfg Config) (adr.Region, error) {
	if cfg.OpenRegion != nil {
		r, err := cfg.OpenRegion()
		if err != nil {
			return nil, fmt.Errorf("%s: open region: %w", Name, err)
		}
		return r, nil
	}
	r, err := adr.Open(cfg.region(dir))
	if err != nil {
		return nil, fmt.Errorf("%s: open region: %w", Name, err)
	}
	return r, nil
}

// recover opens the ring the region holds, lays its records over the
// disk log (and the mirror, which is the disk log's until then) and makes
// the result durable on disk, then empties the ring.
// A ring or record that fails its checks is an error wrapping
// adr.ErrRingCorrupt or logbackends.ErrCorrupt, found before anything is
// written.
func (b *Backend) recover() error {
	ring, err := adr.OpenRing(b.region)
	if err != nil {
		return fmt.Errorf("%s: recover from region %s: %w", Name, b.info.Path, err)
	}
	b.ring = ring
	var recs []savedRecord
	err = b.ring.Scan(func(off, _ uint64, p []byte) error {
		r, err := decodeSave(p)
		if err != nil {
			return fmt.Errorf("%w: ring record at offset %d: %w", logbackends.ErrCorrupt, off, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: recover from region %s: %w", Name, b.info.Path, err)
	}
	o, err := overlayOf(recs)
	if err != nil {
		return fmt.Errorf("%s: recover from region %s: %w", Name, b.info.Path, err)
	}
	first, _ := b.m.FirstIndex()
	last, _ := b.m.LastIndex()
	ents := o.ents
	if o.lo > 0 {
		if o.lo > last+1 {
			return fmt.Errorf("%s: recover: %w: ring records start at index %d, the disk log ends at %d", Name, logbackends.ErrCorrupt, o.lo, last)
		}
		if o.lo < first {
			// Compacted on disk already: only what follows the
			// compaction point is log.
			ents = ents[min(uint64(len(ents)), first-o.lo):]
		}
	}
	if len(recs) > 0 {
		if err := b.m.CheckSave(ents, nil); err != nil {
			return fmt.Errorf("%s: recover: %w", Name, err)
		}
		if err := b.disk.saveSynced(o.hs, ents, nil); err != nil {
			return fmt.Errorf("%s: recover: write the ring's records to disk: %w", Name, err)
		}
		if err := b.m.ApplySave(o.hs, ents, nil); err != nil {
			return fmt.Errorf("%s: recover: %w", Name, err)
		}
		if err := b.ring.Release(b.ring.Tail()); err != nil {
			return fmt.Errorf("%s: recover: %w", Name, err)
		}
	}
	return nil
}

// Save implements logbackends.Backend. A Save without a snapshot becomes
// one ring record, published (flushed and fenced) before Save returns, and
// is queued for the drainer. A Save that installs a snapshot, or whose
// record is larger than the ring takes, waits for the drainer to empty
// the ring and is written to disk and synced directly.
func (b *Backend) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.saves.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.m.CheckSave(ents, snap); err != nil {
		return err
	}
	if err := b.d.failed(); err != nil {
		return err
	}
	if raft.IsEmptyHardState(hs) {
		hs = nil
	}
	if hs == nil && len(ents) == 0 && raft.IsEmptySnap(snap) {
		return nil
	}
	var err error
	if raft.IsEmptySnap(snap) {
		b.buf, err = encodeSave(b.buf[:0], b.mo, hs, ents)
		if err != nil {
			return fmt.Errorf("%s: save: %w", Name, err)
		}
	}
	if !raft.IsEmptySnap(snap) || len(b.buf) > b.ring.MaxPayload() {
		err = b.saveDirectLocked(hs, ents, snap)
	} else {
		err = b.publishLocked(hs, ents)
	}
	if err != nil {
		return fmt.Errorf("%s: save: %w", Name, err)
	}
	if err := b.m.ApplySave(hs, ents, snap); err != nil {
		return fmt.Errorf("%s: save: %w", Name, err)
	}
	b.entries.Add(uint64(len(ents)))
	return nil
}

// slowRingWait is how long a Save waits for ring space before it is
// counted (CounterRingFullSlowWaits) and logged, unless half the
// ring-full timeout is shorter: the drainer is that far behind, so the
// disk is not keeping up. A second is etcd's threshold for its slow
// fdatasync warning.
const slowRingWait = time.Second

// publishLocked appends b.buf to the ring, waiting for the drainer while
// the ring is full, at most b.fullTimeout, and queues the Save for the
// drainer.
func (b *Backend) publishLocked(hs *raftpb.HardState, ents []*raftpb.Entry) error {
	var waitStart time.Time
	for {
		t0 := time.Now()
		end, err := b.ring.Append(b.buf)
		if err == nil {
			if b.fenceCheck != nil {
				if err := b.fenceCheck.FenceErr(); err != nil {
					return err
				}
			}
			b.publishes.Record(time.Since(t0))
			b.ringBytes.Add(uint64(len(b.buf)))
			it := item{hs: hs, end: end, size: len(b.buf)}
			if len(ents) > 0 {
				it.lo, it.hi = ents[0].GetIndex(), ents[len(ents)-1].GetIndex()
			}
			b.d.enqueue(it)
			return nil
		}
		if !errors.Is(err, adr.ErrRingFull) {
			return err
		}
		if waitStart.IsZero() {
			waitStart = t0
			b.fullWaits.Add(1)
			after := min(slowRingWait, b.fullTimeout/2)
			slow := time.AfterFunc(after, func() {
				b.slowWaits.Add(1)
				b.log.Warn(fmt.Sprintf("%s: a Save has waited %v for space in region %s: the drainer is behind, the disk log in %s is not keeping up; the Save fails after --%s %v",
					Name, after, b.info.Path, b.dir, flagRingFullTimeout, b.fullTimeout))
			})
			defer slow.Stop()
		}
		if err := b.d.waitReleased(waitStart.Add(b.fullTimeout)); err != nil {
			if errors.Is(err, ErrRingFullTimeout) {
				return fmt.Errorf("%w: a record of %d bytes waited %v (--%s) for the drainer to free space in region %s: the disk log in %s is not keeping up: %w",
					ErrRingFullTimeout, len(b.buf), b.fullTimeout, flagRingFullTimeout, b.info.Path, b.dir, adr.ErrRingFull)
			}
			return err
		}
	}
}

// saveDirectLocked empties the ring through the drainer, then writes the
// Save to disk and syncs: ring records always follow the disk log.
func (b *Backend) saveDirectLocked(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) error {
	if err := b.d.quiesce(); err != nil {
		return err
	}
	b.direct.Add(1)
	return b.disk.saveSynced(hs, ents, snap)
}

// CreateSnapshot implements logbackends.Backend. It waits for the drainer
// to empty the ring, then records the snapshot in the disk log, synced.
func (b *Backend) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	if b.closed.Load() {
		return nil, logbackends.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	term, err := b.m.CheckSnapshot(i)
	if err != nil {
		return nil, err
	}
	if err := b.d.quiesce(); err != nil {
		return nil, fmt.Errorf("%s: create snapshot at %d: %w", Name, i, err)
	}
	snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		Index: new(i), Term: new(term), ConfState: raftpb.EnsureConfState(cs)}}
	if err := b.disk.createSnapshot(snap); err != nil {
		return nil, fmt.Errorf("%s: create snapshot at %d: %w", Name, i, err)
	}
	return b.m.ApplySnapshot(i, cs, data)
}

// Compact implements logbackends.Backend. It waits for the drainer to
// empty the ring, then compacts the disk log (its compaction point is
// synced before segments are removed).
func (b *Backend) Compact(i uint64) error {
	if b.closed.Load() {
		return logbackends.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	term, err := b.m.CheckCompact(i)
	if err != nil {
		return err
	}
	if err := b.d.quiesce(); err != nil {
		return fmt.Errorf("%s: compact to %d: %w", Name, i, err)
	}
	if err := b.disk.compact(i, term); err != nil {
		return fmt.Errorf("%s: compact to %d: %w", Name, i, err)
	}
	return b.m.ApplyCompact(i)
}

// Close implements logbackends.Backend. It lets the drainer empty the
// ring (so a clean restart has nothing to recover from the region), stops
// it, records in the binding record that everything is on disk (so the
// region may be lost, as a reboot loses an emulated one, without the next
// Open refusing), and closes the disk log and the region. What was
// acknowledged stays in the region, and the record says so, if draining
// fails.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return logbackends.ErrClosed
	}
	drained := b.d.quiesce()
	b.d.stop()
	errs := []error{drained}
	if drained == nil {
		errs = append(errs, b.markClean())
	}
	errs = append(errs, b.ring.Close(), b.disk.close(), b.region.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", Name, err)
	}
	return nil
}

// markClean records that the disk log holds everything up to its last
// index and the ring nothing more. It is called with the ring drained, so
// the mirror's last index is the disk log's.
func (b *Backend) markClean() error {
	last, err := b.m.LastIndex()
	if err != nil {
		return err
	}
	rec := b.bound
	rec.state, rec.index = stateClean, last
	return writeBinding(b.fs, b.dir, rec, b.skip)
}

// Stats implements logbackends.Backend. Syncs and SyncLatency are the
// publishes on the write path (one per Save that went to the region: its
// flushes and fences); the disk work is in Counters (CounterDiskSyncs,
// CounterDrainedBytes, CounterRingFullWaits, CounterRingFullSlowWaits,
// CounterDirectSaves, and the disk log's logbackends.CounterTornTails and
// CounterTornBytes) and the region in Facts
// (logbackends.FactFlushInstruction, FactRegionKind).
func (b *Backend) Stats() logbackends.Stats {
	lat := b.publishes.Snapshot()
	return logbackends.Stats{
		Backend:      Name,
		Saves:        b.saves.Load(),
		EntriesSaved: b.entries.Load(),
		BytesWritten: b.ringBytes.Load(),
		Syncs:        lat.Count,
		SyncLatency:  lat,
		Emulated:     append([]string(nil), b.emulated...),
		Counters: append([]logbackends.Counter{
			{Name: CounterDiskSyncs, Unit: "syncs", Help: "fdatasyncs of the drainer, off the write path", Value: b.disk.syncs()},
			{Name: CounterDrainedBytes, Unit: "bytes", Help: "bytes the drainer wrote to disk segments", Value: b.disk.bytesWritten()},
			{Name: CounterRingFullWaits, Unit: "waits", Help: "Saves that found the region full and waited for the drainer", Value: b.fullWaits.Load()},
			{Name: CounterRingFullSlowWaits, Unit: "waits", Help: "Saves that waited for region space longer than a second, or half the ring-full timeout", Value: b.slowWaits.Load()},
			{Name: CounterDirectSaves, Unit: "saves", Help: "Saves written to disk directly (snapshots, records larger than the ring takes)", Value: b.direct.Load()},
		}, filelog.CutCounters(b.disk.cut)...),
		Facts: []logbackends.Fact{
			{Name: logbackends.FactFlushInstruction, Value: b.info.Flush},
			{Name: FactRegionKind, Value: b.info.Kind},
		},
	}
}

// The names of the adr backend's own Stats.Counters and Stats.Facts.
const (
	// CounterDiskSyncs counts the drainer's fdatasyncs, off the write path.
	CounterDiskSyncs = "disk_syncs"
	// CounterDrainedBytes counts the bytes the drainer wrote to disk.
	CounterDrainedBytes = "drained_bytes"
	// CounterRingFullWaits counts Saves that found the region full and
	// waited for the drainer to free space (never dropped).
	CounterRingFullWaits = "ring_full_waits"
	// CounterRingFullSlowWaits counts the Saves among those that waited
	// longer than a second (or half of Config.RingFullTimeout, if that is
	// shorter): the disk is not keeping up with the region. Each is
	// logged too.
	CounterRingFullSlowWaits = "ring_full_slow_waits"
	// CounterDirectSaves counts Saves written to disk and synced directly
	// instead of through the region: an installed snapshot, or a record
	// larger than half the ring.
	CounterDirectSaves = "direct_saves"
	// FactRegionKind is the kind of region mapped (adr.Info.Kind).
	FactRegionKind = "region_kind"
)

// RegionInfo describes the region the log is kept in.
func (b *Backend) RegionInfo() adr.Info { return b.info }
