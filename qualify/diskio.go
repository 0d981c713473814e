package qualify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// The disk patterns, measured in Go through a vfs.FS: the file system the
// log backends write through, so what is measured is what they would see
// (and a test can slow it down). File.Sync is fdatasync on the real file
// system.

// etcdJobBytes is the size of etcd's fio job (--size=22m): a round writes
// at most this much, as fio does.
const etcdJobBytes = 22 << 20

// Block sizes: etcd's fio job writes 2300 bytes (a typical WAL record),
// OpenShift's 8000.
const (
	walBlock   = 2300
	wal8kBlock = 8000
	pageSize   = 4096
	// commitPages is how many random pages a backend commit writes before
	// its fdatasync: bbolt writes the pages a batch dirtied (etcd commits
	// every 100 ms, a few hundred KiB under load), then the meta page.
	commitPages = 32
)

// newLatencyHistogram records nanoseconds from 1 ns to a minute with 3
// significant digits.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute), 3)
}

// randomBytes is n bytes of incompressible data, the same every time. fio
// fills its buffer with random bytes once and writes it again and again;
// so does Go, because storage that compresses or deduplicates (thin
// volumes, some SANs and hypervisors) would make a pattern of zeros or a
// repeating one cheaper than real records and the two would not agree.
func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(2300, 8000))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// syncRun is what one measurement of a pattern recorded.
type syncRun struct {
	Ops     int64
	Elapsed time.Duration
	Hist    *hdrhistogram.Histogram // latency of each timed operation, ns
}

// iops is operations per second of the run's wall time.
func (r syncRun) iops() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// timer records timed operations into a syncRun until a deadline, and
// reports the run so far at most every tenth of a second.
type timer struct {
	run      syncRun
	start    time.Time
	deadline time.Time
	lastTick time.Time
	tick     func(syncRun)
}

func newTimer(d time.Duration, tick func(syncRun)) *timer {
	now := time.Now()
	return &timer{run: syncRun{Hist: newLatencyHistogram()}, start: now, deadline: now.Add(d), lastTick: now, tick: tick}
}

// done records an operation that began at t0 and says whether the
// deadline has passed.
func (t *timer) done(t0 time.Time) bool {
	now := time.Now()
	_ = t.run.Hist.RecordValue(int64(now.Sub(t0)))
	t.run.Ops++
	t.run.Elapsed = now.Sub(t.start)
	if t.tick != nil && now.Sub(t.lastTick) > 100*time.Millisecond {
		t.tick(t.run)
		t.lastTick = now
	}
	return !now.Before(t.deadline)
}

// walRound writes bs-byte blocks one after another into a fresh file at
// path, each followed by Sync (fdatasync), until maxBytes are written,
// d has passed or ctx is done, and records every Sync's latency. The file
// is preallocated, as etcd's WAL segments are and as fio's default
// fallocate does, and removed afterwards.
func walRound(ctx context.Context, fsys vfs.FS, path string, bs int, maxBytes int64, d time.Duration, tick func(syncRun)) (_ syncRun, err error) {
	f, err := fsys.Create(path)
	if err != nil {
		return syncRun{}, fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		err = errors.Join(err, f.Close(), fsys.Remove(path))
	}()
	if err := f.Preallocate(maxBytes); err != nil {
		return syncRun{}, fmt.Errorf("preallocate %s: %w", path, err)
	}
	buf := randomBytes(bs)
	tm := newTimer(d, tick)
	for off := int64(0); off+int64(bs) <= maxBytes; off += int64(bs) {
		if ctx.Err() != nil {
			return tm.run, ctx.Err()
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return tm.run, fmt.Errorf("write %s: %w", path, err)
		}
		t0 := time.Now()
		if err := f.Sync(); err != nil {
			return tm.run, fmt.Errorf("fdatasync %s: %w", path, err)
		}
		if tm.done(t0) {
			break
		}
	}
	return tm.run, nil
}

// commitRun measures the backend-commit pattern in a file of fileSize
// bytes at path: each commit writes commitPages random 4 KiB pages, syncs,
// writes one of the two meta pages and syncs again, as bbolt commits; the
// latency recorded is the whole commit's. The file is written through
// once first, so commits overwrite allocated blocks as they do in a
// database that has been running, and removed afterwards.
func commitRun(ctx context.Context, fsys vfs.FS, path string, fileSize int64, d time.Duration, tick func(syncRun)) (_ syncRun, err error) {
	f, err := fsys.Create(path)
	if err != nil {
		return syncRun{}, fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		err = errors.Join(err, f.Close(), fsys.Remove(path))
	}()
	pages := fileSize / pageSize
	if pages < 3 {
		return syncRun{}, fmt.Errorf("commit file %d bytes: want at least 3 pages", fileSize)
	}
	if err := f.Preallocate(pages * pageSize); err != nil {
		return syncRun{}, fmt.Errorf("preallocate %s: %w", path, err)
	}
	fill := randomBytes(1 << 20)
	for off := int64(0); off < pages*pageSize; off += int64(len(fill)) {
		n := min(int64(len(fill)), pages*pageSize-off)
		if _, err := f.WriteAt(fill[:n], off); err != nil {
			return syncRun{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return syncRun{}, fmt.Errorf("fdatasync %s: %w", path, err)
	}
	page := randomBytes(pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	tm := newTimer(d, tick)
	for meta := int64(0); ; meta ^= 1 {
		if ctx.Err() != nil {
			return tm.run, ctx.Err()
		}
		t0 := time.Now()
		for range commitPages {
			page[0]++
			// Pages 0 and 1 are the meta pages, as in bbolt.
			if _, err := f.WriteAt(page, (2+rng.Int64N(pages-2))*pageSize); err != nil {
				return tm.run, fmt.Errorf("write %s: %w", path, err)
			}
		}
		if err := f.Sync(); err != nil {
			return tm.run, fmt.Errorf("fdatasync %s: %w", path, err)
		}
		if _, err := f.WriteAt(page, meta*pageSize); err != nil {
			return tm.run, fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return tm.run, fmt.Errorf("fdatasync %s: %w", path, err)
		}
		if tm.done(t0) {
			return tm.run, nil
		}
	}
}
