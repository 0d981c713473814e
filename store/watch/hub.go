package watch

import (
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Hub fans the store's events out to watchers. See the package comment for
// the synced/unsynced scheme that keeps each watcher's sequence exact.
type Hub struct {
	hist History
	cfg  Config

	// syncc wakes the catch-up loop; one pending token is enough because
	// the loop rescans every unsynced watcher each round.
	syncc    chan struct{}
	done     chan struct{}
	loopDone chan struct{}

	mu sync.Mutex
	// rev is the last revision passed to Notify (or the store's revision
	// when the hub was made): every synced watcher has been given every
	// event up to rev.
	rev      int64
	closed   bool
	synced   index
	unsynced map[*watcher]struct{}
	// progress holds the watchers created with progress_notify.
	progress map[*watcher]struct{}
	streams  map[*Stream]struct{}
	// matched is Notify's scratch list of watchers touched by one revision,
	// kept to avoid an allocation per call.
	matched []*watcher
}

type watchState uint8

const (
	stateSynced watchState = iota
	stateUnsynced
	stateRemoved
)

// watcher is one watch on a stream. Its fields are guarded by the hub's mu
// except batch, which only Notify uses, also under mu.
type watcher struct {
	id  int64
	s   *Stream
	key []byte
	// end nil: key alone; empty: every key >= key; else [key, end).
	end []byte

	noPut, noDelete bool
	prevKV          bool
	fragment        bool
	progressNotify  bool

	state watchState
	// minRev is the lowest revision this watcher has not been given yet.
	// For a synced watcher it may lag behind hub.rev+1 (it is only raised
	// when the watcher leaves the synced index) but never exceeds it unless
	// the watch was created with a future start revision.
	minRev int64
	// pos is the position in the synced index's list for the key, or in
	// group, the synced index's list for the range.
	pos   int
	group *rangeGroup
	// sentSinceTick records that an event response went out since the last
	// progress tick, which makes a progress notification pointless.
	sentSinceTick bool
	batch         []*mvccpb.Event
}

// NewHub makes a hub over h starting at h.Rev(). Call it before the store
// starts calling Notify. Zero or invalid fields of cfg take the defaults.
func NewHub(h History, cfg Config) *Hub {
	cfg = cfg.withDefaults()
	hub := &Hub{
		hist:     h,
		cfg:      cfg,
		syncc:    make(chan struct{}, 1),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		rev:      h.Rev(),
		synced:   newIndex(),
		unsynced: make(map[*watcher]struct{}),
		progress: make(map[*watcher]struct{}),
		streams:  make(map[*Stream]struct{}),
	}
	go hub.loop()
	return hub
}

// Notify hands the hub the events of revision rev, all of them, in the
// order the store applied them. The store calls it from one goroutine with
// strictly increasing revisions, after rev is readable through History.
// Revisions at or below the hub's current one are ignored. Notify never
// waits for a reader: a watcher whose stream is full is moved to catch up
// from History instead. The hub keeps evs; the caller must not modify them.
func (h *Hub) Notify(rev int64, evs []*mvccpb.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || rev <= h.rev {
		return
	}
	h.rev = rev
	matched := h.matched[:0]
	for _, ev := range evs {
		start := len(matched)
		matched = h.synced.match(ev.Kv.Key, matched)
		// Keep each watcher once and only if it wants the event; the tail
		// just appended is compacted in place.
		kept := start
		for _, w := range matched[start:] {
			if rev < w.minRev || w.filters(ev) {
				continue
			}
			if len(w.batch) == 0 {
				matched[kept] = w
				kept++
			}
			w.batch = append(w.batch, ev)
		}
		matched = matched[:kept]
	}
	moved := false
	for i, w := range matched {
		matched[i] = nil
		evs := make([]*mvccpb.Event, len(w.batch))
		copy(evs, w.batch)
		clear(w.batch)
		w.batch = w.batch[:0]
		resp := &etcdserverpb.WatchResponse{
			Header:  &etcdserverpb.ResponseHeader{Revision: rev},
			WatchId: w.id,
			Events:  evs,
		}
		if w.s.tryEnqueueEvents(resp, w) {
			w.sentSinceTick = true
			continue
		}
		// The reader is behind: this watcher has everything before rev and
		// will read rev onwards from History.
		w.minRev = rev
		h.toUnsyncedLocked(w)
		moved = true
	}
	h.matched = matched[:0]
	if moved {
		h.kickSync()
	}
}

// filters reports whether the watcher's filters drop ev.
func (w *watcher) filters(ev *mvccpb.Event) bool {
	switch ev.Type {
	case mvccpb.Event_PUT:
		return w.noPut
	case mvccpb.Event_DELETE:
		return w.noDelete
	}
	return false
}

func (h *Hub) kickSync() {
	select {
	case h.syncc <- struct{}{}:
	default:
	}
}

// Close stops the hub and closes every stream, whose channels then close.
// It waits for the hub's goroutines and the streams' to end.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		<-h.loopDone
		return
	}
	h.closed = true
	streams := make([]*Stream, 0, len(h.streams))
	for s := range h.streams {
		streams = append(streams, s)
	}
	h.mu.Unlock()
	close(h.done)
	<-h.loopDone
	for _, s := range streams {
		s.Close()
	}
}

// Rev returns the last revision the hub was notified of.
func (h *Hub) Rev() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

// Watchers returns how many watchers are synced and how many are catching
// up, for metrics and tests.
func (h *Hub) Watchers() (synced, unsynced int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.synced.len(), len(h.unsynced)
}

func (h *Hub) toUnsyncedLocked(w *watcher) {
	h.synced.remove(w)
	w.state = stateUnsynced
	h.unsynced[w] = struct{}{}
	w.s.mu.Lock()
	w.s.unsynced++
	w.s.mu.Unlock()
}

func (h *Hub) toSyncedLocked(w *watcher) {
	delete(h.unsynced, w)
	w.state = stateSynced
	h.synced.add(w)
	s := w.s
	s.mu.Lock()
	s.unsynced--
	s.settleProgressLocked(h.rev)
	s.mu.Unlock()
}

// removeLocked takes w out of the hub and its stream.
func (h *Hub) removeLocked(w *watcher) {
	switch w.state {
	case stateSynced:
		h.synced.remove(w)
	case stateUnsynced:
		delete(h.unsynced, w)
		w.s.mu.Lock()
		w.s.unsynced--
		w.s.settleProgressLocked(h.rev)
		w.s.mu.Unlock()
	case stateRemoved:
		return
	}
	w.state = stateRemoved
	delete(h.progress, w)
	delete(w.s.watchers, w.id)
}

// loop runs catch-up rounds when woken and progress ticks on the interval.
func (h *Hub) loop() {
	defer close(h.loopDone)
	t := time.NewTicker(h.cfg.ProgressNotifyInterval)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-h.syncc:
			for h.syncRound() {
				select {
				case <-h.done:
					return
				default:
				}
			}
		case <-t.C:
			h.progressTick()
		}
	}
}

// progressTick sends a progress response to every synced progress_notify
// watcher that had nothing sent since the last tick. Like etcd it skips a
// watcher whose stream is full rather than wait.
func (h *Hub) progressTick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.progress {
		if w.state == stateSynced && !w.sentSinceTick {
			w.s.tryEnqueueProgress(h.rev, w.id)
		}
		w.sentSinceTick = false
	}
}
