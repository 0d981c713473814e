package watch

import (
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// catchUp is one History read for one unsynced watcher: the events of
// [from, to] in its range, read without the hub's lock.
type catchUp struct {
	w        *watcher
	from, to int64
	evs      []*mvccpb.Event
	err      error
	// compacted marks err as a compaction; compactRev is History.CompactRev
	// read just after.
	compacted  bool
	compactRev int64
}

// syncRound gives every unsynced watcher whose stream has room one batch of
// the events it is missing, and moves those that reach the hub's revision
// back to the synced index. It reports whether another round could make
// progress at once; otherwise the loop waits for a stream to drain or a
// watcher to fall behind.
//
// Exactness: an unsynced watcher is touched only here (Notify skips it) and
// this loop is the only one, so its minRev is stable while its batch is read
// without the lock. It rejoins the synced index only under the lock and only
// when its minRev is hub.rev+1, so the next Notify is exactly the next
// revision it needs.
func (h *Hub) syncRound() bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	cur := h.rev
	var tasks []catchUp
	room := make(map[*Stream]int)
	for w := range h.unsynced {
		r, ok := room[w.s]
		if !ok {
			r = w.s.room()
		}
		if r <= 0 {
			room[w.s] = 0
			continue
		}
		room[w.s] = r - 1
		tasks = append(tasks, catchUp{w: w, from: w.minRev, to: cur})
	}
	h.mu.Unlock()
	if len(tasks) == 0 {
		return false
	}

	for i := range tasks {
		h.read(&tasks[i])
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	more := false
	for i := range tasks {
		t := &tasks[i]
		w := t.w
		if w.state != stateUnsynced || w.minRev != t.from {
			continue // canceled or its stream closed while we read
		}
		if t.err != nil {
			h.failLocked(w, t)
			continue
		}
		if evs := w.keep(t.evs); len(evs) > 0 {
			w.s.enqueueCatchUp(&etcdserverpb.WatchResponse{
				Header:  &etcdserverpb.ResponseHeader{Revision: t.to},
				WatchId: w.id,
				Events:  evs,
			}, w)
			w.sentSinceTick = true
		}
		w.minRev = t.to + 1
		if w.minRev > h.rev {
			h.toSyncedLocked(w)
			continue
		}
		more = true
	}
	return more
}

// read fills t from History. A full read may end inside a revision; that
// revision is dropped and read next round, unless it is the only one, in
// which case it is read whole so that a revision is never split.
func (h *Hub) read(t *catchUp) {
	w := t.w
	limit := h.cfg.MaxEventsPerResponse
	t.evs, t.err = h.hist.Events(w.key, w.end, t.from, t.to, limit)
	if t.err == nil && len(t.evs) >= limit {
		last := t.evs[len(t.evs)-1].Kv.ModRevision
		if t.evs[0].Kv.ModRevision == last {
			t.to = last
			t.evs, t.err = h.hist.Events(w.key, w.end, last, last, 0)
		} else {
			n := len(t.evs)
			for n > 0 && t.evs[n-1].Kv.ModRevision == last {
				n--
			}
			t.evs = t.evs[:n]
			t.to = last - 1
		}
	}
	if t.err != nil && h.compacted(t.err, t.from) {
		t.compacted = true
		t.compactRev = max(h.hist.CompactRev(), 1)
	}
}

func (h *Hub) compacted(err error, from int64) bool {
	if h.cfg.IsCompacted != nil {
		return h.cfg.IsCompacted(err)
	}
	return from <= h.hist.CompactRev()
}

// failLocked ends a watcher whose history cannot be read: etcd's compacted
// response (CompactRevision set, Canceled) when it was compacted, otherwise a
// cancel with the reason, never a silent gap.
func (h *Hub) failLocked(w *watcher, t *catchUp) {
	resp := &etcdserverpb.WatchResponse{
		Header:   &etcdserverpb.ResponseHeader{Revision: h.rev},
		WatchId:  w.id,
		Canceled: true,
	}
	if t.compacted {
		// etcd sets no reason here: clients derive "required revision has
		// been compacted" from CompactRevision.
		resp.CompactRevision = t.compactRev
	} else {
		resp.CancelReason = fmt.Errorf("%w: watch %d from revision %d: %w", ErrHistory, w.id, t.from, t.err).Error()
	}
	s := w.s
	h.removeLocked(w)
	s.enqueueControl(resp)
}

// keep returns the events the watcher's filters let through, reusing evs.
func (w *watcher) keep(evs []*mvccpb.Event) []*mvccpb.Event {
	if !w.noPut && !w.noDelete {
		return evs
	}
	n := 0
	for _, ev := range evs {
		if !w.filters(ev) {
			evs[n] = ev
			n++
		}
	}
	clear(evs[n:])
	return evs[:n]
}
