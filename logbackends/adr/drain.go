package adrlog

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// item is a published Save waiting to be drained. Its entries are not
// kept here: the drainer copies them from its ring record (end, size), as
// encoded there, and the backend's mirror holds the decoded ones. lo and
// hi are the indexes of its first and last entry (0, 0 for none). The ring
// space up to end is released once the disk log has it synced.
type item struct {
	hs     *raftpb.HardState
	lo, hi uint64
	end    uint64
	size   int
}

// Draining policy: the drainer lets published Saves gather and drains them
// together, with one fdatasync, once drainBytes of records are queued, once
// the oldest has waited drainDelay, or at once when something waits for it
// (a Save that found the ring full, a snapshot, a compaction, Close). The
// Saves were durable when published; draining them one by one would only
// spend a disk sync per Save on work nobody waits for. drainDelay bounds
// how much sits only in the region (and what Open replays after a crash)
// at a steady load.
const (
	drainDelay = 10 * time.Millisecond
	// drainFraction of the ring's data area is drainBytes: a quarter, so
	// a burst can keep publishing into the other three while a drain
	// runs.
	drainFraction = 4
)

// drainer copies published Saves to the disk log in the background: it
// takes every queued Save, writes them with one write call each, syncs
// once, and releases their ring space. Save never waits for it except
// when the ring is full; snapshots, compaction and Close wait for it to
// empty the ring (quiesce), off the hot path.
type drainer struct {
	b *Backend

	mu       sync.Mutex
	cond     sync.Cond // L is &mu; broadcast on progress and on stop
	queue    []item
	queued   int       // bytes of the records in queue
	oldest   time.Time // when the first item in queue was queued
	waiting  int       // callers waiting for the drainer: drain now
	busy     bool      // the drainer holds a batch taken from queue
	released uint64    // batches released so far, for Saves waiting for space
	err      error     // the failure that stopped the drainer
	// drained is the index of the last entry the drainer made durable on
	// disk (the last one of the last item drained that had entries).
	drained  atomic.Uint64
	stopping bool
	done     chan struct{}
	// wake nudges the drainer's goroutine (capacity 1): a batch may be
	// due, or it must stop.
	wake chan struct{}
	// delay and threshold are drainDelay and drainBytes; tests change
	// them under mu.
	delay     time.Duration
	threshold int
}

func (d *drainer) start(b *Backend) {
	d.b = b
	d.cond.L = &d.mu
	d.done = make(chan struct{})
	d.wake = make(chan struct{}, 1)
	d.delay = drainDelay
	d.threshold = max(b.ring.DataSize()/drainFraction, 1)
	go d.run()
}

// nudge wakes the drainer's goroutine if it sleeps.
func (d *drainer) nudge() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *drainer) enqueue(it item) {
	d.mu.Lock()
	if len(d.queue) == 0 {
		d.oldest = time.Now()
	}
	d.queue = append(d.queue, it)
	d.queued += it.size
	first, full := len(d.queue) == 1, d.queued >= d.threshold
	d.mu.Unlock()
	if first || full {
		d.nudge() // start the delay clock, or drain now
	}
}

// failed returns the error that stopped the drainer, if one did: the
// ring can no longer be emptied, so Saves fail with it.
func (d *drainer) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// waitReleased waits until the drainer releases another batch of ring
// space (or fails), but not past deadline: then it returns
// ErrRingFullTimeout. The caller found the ring full, so there is work
// queued or in progress.
func (d *drainer) waitReleased(deadline time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waiting++
	defer func() { d.waiting-- }()
	d.nudge()
	// cond.Wait has no deadline: a timer wakes the waiters when it passes.
	t := time.AfterFunc(time.Until(deadline), func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	defer t.Stop()
	seen := d.released
	for d.released == seen && d.err == nil && (d.busy || len(d.queue) > 0) {
		if !time.Now().Before(deadline) {
			return ErrRingFullTimeout
		}
		d.cond.Wait()
	}
	return d.err
}

// quiesce waits until everything queued is drained, synced and released:
// the ring is empty and the disk log holds every acknowledged Save. The
// caller holds the writer lock, so nothing new is queued meanwhile.
func (d *drainer) quiesce() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waiting++
	defer func() { d.waiting-- }()
	d.nudge()
	for (d.busy || len(d.queue) > 0) && d.err == nil {
		d.cond.Wait()
	}
	return d.err
}

// stop ends the drainer's goroutine and waits for it.
func (d *drainer) stop() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	d.nudge()
	d.cond.Broadcast()
	<-d.done
}

// takeLocked returns the batch to drain now, or, when none is due, how long to
// sleep before one is (0: until nudged). It is called with mu held.
func (d *drainer) takeLocked(now time.Time) (batch []item, sleep time.Duration) {
	if len(d.queue) == 0 {
		return nil, 0
	}
	if d.waiting == 0 && d.queued < d.threshold {
		if wait := d.delay - now.Sub(d.oldest); wait > 0 {
			return nil, wait
		}
	}
	batch = d.queue
	d.queue, d.queued = nil, 0
	return batch, 0
}

func (d *drainer) run() {
	defer close(d.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		d.mu.Lock()
		if d.stopping || d.err != nil {
			d.mu.Unlock()
			return
		}
		batch, sleep := d.takeLocked(time.Now())
		d.busy = batch != nil
		d.mu.Unlock()
		if batch == nil {
			if sleep > 0 {
				timer.Reset(sleep)
			}
			select {
			case <-d.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}

		err := d.drain(batch)

		d.mu.Lock()
		d.busy = false
		if err != nil {
			d.err = fmt.Errorf("%s: drain to disk: %w", Name, err)
		} else {
			d.released++
		}
		d.mu.Unlock()
		d.cond.Broadcast()
	}
}

// drain writes a batch to the disk log with one write and one sync, and
// releases its ring space: only then may the ring reuse it.
func (d *drainer) drain(batch []item) error {
	ring := d.b.ring
	err := d.b.disk.drainBatch(batch, func(it item) ([]byte, error) { return ring.Payload(it.end, it.size) })
	if err != nil {
		return err
	}
	for k := len(batch) - 1; k >= 0; k-- {
		if batch[k].hi != 0 {
			d.drained.Store(batch[k].hi)
			break
		}
	}
	return ring.Release(batch[len(batch)-1].end)
}
