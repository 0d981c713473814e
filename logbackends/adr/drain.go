package adrlog

import (
	"fmt"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
)

// item is a published Save waiting to be drained: the ring space up to
// end is released once the disk log has it synced.
type item struct {
	hs   *raftpb.HardState
	ents []*raftpb.Entry
	end  uint64
}

// drainer copies published Saves to the disk log in the background: it
// takes every queued Save, writes them with one write call each, syncs
// once, and releases their ring space. Save never waits for it except
// when the ring is full; snapshots, compaction and Close wait for it to
// empty the ring (quiesce), off the hot path.
type drainer struct {
	b *Backend

	mu       sync.Mutex
	cond     sync.Cond // L is &mu; broadcast on new work, on progress and on stop
	queue    []item
	busy     bool   // the drainer holds a batch taken from queue
	released uint64 // batches released so far, for Saves waiting for space
	err      error  // the failure that stopped the drainer
	stopping bool
	done     chan struct{}
}

func (d *drainer) start(b *Backend) {
	d.b = b
	d.cond.L = &d.mu
	d.done = make(chan struct{})
	go d.run()
}

func (d *drainer) enqueue(it item) {
	d.mu.Lock()
	d.queue = append(d.queue, it)
	d.mu.Unlock()
	d.cond.Broadcast()
}

// failed returns the error that stopped the drainer, if one did: the
// ring can no longer be emptied, so Saves fail with it.
func (d *drainer) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// waitReleased waits until the drainer releases another batch of ring
// space (or fails). The caller found the ring full, so there is work
// queued or in progress.
func (d *drainer) waitReleased() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := d.released
	for d.released == seen && d.err == nil && (d.busy || len(d.queue) > 0) {
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
	d.cond.Broadcast()
	<-d.done
}

func (d *drainer) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.stopping && d.err == nil {
			d.cond.Wait()
		}
		if d.stopping || d.err != nil {
			d.mu.Unlock()
			return
		}
		batch := d.queue
		d.queue = nil
		d.busy = true
		d.mu.Unlock()

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

// drain writes a batch to the disk log, syncs it and releases its ring
// space: only then may the ring reuse it.
func (d *drainer) drain(batch []item) error {
	for _, it := range batch {
		if err := d.b.disk.Save(it.hs, it.ents, nil, false); err != nil {
			return err
		}
	}
	if err := d.b.disk.SyncNow(); err != nil {
		return err
	}
	return d.b.ring.Release(batch[len(batch)-1].end)
}
