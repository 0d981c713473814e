package watch

import (
	"bytes"
	"sync"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// ProgressWatchID is the watch id of a progress notification answering
// RequestProgress: it speaks for every watcher on the stream.
const ProgressWatchID = -1

// Stream is one gRPC Watch stream: the watchers a client created on it and
// the ordered queue of responses for it. Create, Cancel and RequestProgress
// may be called from any goroutine; responses come out of Chan in the order
// the hub produced them, from one send goroutine per stream that also fills
// prev_kv and fragments, so that neither costs Notify anything.
type Stream struct {
	h      *Hub
	out    chan *etcdserverpb.WatchResponse
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}

	// Guarded by h.mu.
	watchers map[int64]*watcher
	nextID   int64
	closed   bool

	mu sync.Mutex // taken after h.mu, never before
	// queue holds responses not yet taken by the send goroutine; pending
	// counts those carrying events, bounded by Config.StreamBuffer.
	queue   []queued
	pending int
	// unsynced counts this stream's watchers catching up; while it is not
	// zero, a RequestProgress answer waits (deferredProgress).
	unsynced         int
	deferredProgress bool
}

// queued is a response and what the send goroutine must do to it.
type queued struct {
	resp     *etcdserverpb.WatchResponse
	events   bool // counts toward pending
	prevKV   bool
	fragment bool
}

// NewStream opens a stream. After Hub.Close it returns a stream whose
// channel is already closed and whose methods do nothing.
func (h *Hub) NewStream() *Stream {
	s := &Stream{
		h:        h,
		out:      make(chan *etcdserverpb.WatchResponse),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		watchers: make(map[int64]*watcher),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.closed = true
		close(s.done)
		close(s.exited)
		close(s.out)
		return s
	}
	h.streams[s] = struct{}{}
	h.mu.Unlock()
	go s.send()
	return s
}

// Chan delivers the stream's responses with Header.Revision set; the caller
// fills the cluster id, member id and raft term. It is closed by Close. The
// events in a response may be shared with other watchers: do not modify them.
func (s *Stream) Chan() <-chan *etcdserverpb.WatchResponse { return s.out }

// Create adds a watcher and queues its Created response ahead of any of its
// events. A refused watch (duplicate watch_id, empty range) gets a Created
// response with Canceled set and the reason, as etcd does. A watch whose
// start revision turns out compacted gets Created, then a response with
// CompactRevision set and Canceled.
func (s *Stream) Create(req *etcdserverpb.WatchCreateRequest) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	key, end := normalizeRange(req.GetKey(), req.GetRangeEnd())
	id := req.GetWatchId()
	var refuse error
	switch {
	case end != nil && len(end) > 0 && bytes.Compare(key, end) >= 0:
		refuse = ErrEmptyRange
	case id != 0 && s.watchers[id] != nil:
		refuse = ErrDuplicateWatchID
	}
	if refuse != nil {
		s.enqueueControl(&etcdserverpb.WatchResponse{
			Header:       &etcdserverpb.ResponseHeader{Revision: h.rev},
			WatchId:      -1,
			Created:      true,
			Canceled:     true,
			CancelReason: refuse.Error(),
		})
		return
	}
	if id == 0 {
		// etcd's auto ids count up from 0, stepping over client-chosen ones.
		for s.watchers[s.nextID] != nil {
			s.nextID++
		}
		id = s.nextID
		s.nextID++
	}
	w := &watcher{
		id:             id,
		s:              s,
		key:            key,
		end:            end,
		prevKV:         req.GetPrevKv(),
		fragment:       req.GetFragment(),
		progressNotify: req.GetProgressNotify(),
	}
	for _, f := range req.GetFilters() {
		switch f {
		case etcdserverpb.WatchCreateRequest_NOPUT:
			w.noPut = true
		case etcdserverpb.WatchCreateRequest_NODELETE:
			w.noDelete = true
		}
	}
	s.watchers[id] = w
	if w.progressNotify {
		h.progress[w] = struct{}{}
	}
	s.enqueueControl(&etcdserverpb.WatchResponse{
		Header:  &etcdserverpb.ResponseHeader{Revision: h.rev},
		WatchId: id,
		Created: true,
	})
	start := req.GetStartRevision()
	if start <= 0 || start > h.rev {
		// From now (or a revision still to come): nothing to read back.
		w.minRev = max(start, h.rev+1)
		w.state = stateSynced
		h.synced.add(w)
		return
	}
	w.minRev = start
	w.state = stateUnsynced
	h.unsynced[w] = struct{}{}
	s.mu.Lock()
	s.unsynced++
	s.mu.Unlock()
	h.kickSync()
}

// normalizeRange applies etcd's conventions: an empty key is "\x00", an
// empty range_end watches the key alone (nil), and range_end "\x00" watches
// every key >= key (empty, non-nil). The bytes are copied because the
// request may be reused.
func normalizeRange(key, end []byte) ([]byte, []byte) {
	if len(key) == 0 {
		key = []byte{0}
	} else {
		key = bytes.Clone(key)
	}
	switch {
	case len(end) == 0:
		return key, nil
	case len(end) == 1 && end[0] == 0:
		return key, []byte{}
	}
	return key, bytes.Clone(end)
}

// Cancel removes a watcher and queues its Canceled response. Like etcd it
// does nothing for an id that is not (or no longer) on the stream, such as
// one already ended by compaction.
func (s *Stream) Cancel(watchID int64) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	w := s.watchers[watchID]
	if s.closed || w == nil {
		return
	}
	h.removeLocked(w)
	s.enqueueControl(&etcdserverpb.WatchResponse{
		Header:   &etcdserverpb.ResponseHeader{Revision: h.rev},
		WatchId:  watchID,
		Canceled: true,
	})
}

// RequestProgress asks for a progress notification: a response with watch
// id -1, no events and Header.Revision the hub's revision, meaning every
// watcher on the stream has been sent every event up to it. As in etcd it is
// sent once all the stream's watchers are synced, at once if they are; while
// one is pending, further requests are absorbed by it.
func (s *Stream) RequestProgress() {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	s.mu.Lock()
	s.deferredProgress = true
	s.settleProgressLocked(h.rev)
	s.mu.Unlock()
}

// settleProgressLocked sends a deferred progress notification once nothing
// on the stream is catching up. s.mu and h.mu must be held.
func (s *Stream) settleProgressLocked(rev int64) {
	if !s.deferredProgress || s.unsynced > 0 {
		return
	}
	s.deferredProgress = false
	s.pushLocked(queued{resp: &etcdserverpb.WatchResponse{
		Header:  &etcdserverpb.ResponseHeader{Revision: rev},
		WatchId: ProgressWatchID,
	}})
}

// Close removes the stream's watchers, closes Chan and waits for the send
// goroutine to end. Responses not yet taken from Chan are dropped.
func (s *Stream) Close() {
	h := s.h
	h.mu.Lock()
	if s.closed {
		h.mu.Unlock()
		<-s.exited
		return
	}
	s.closed = true
	for _, w := range s.watchers {
		h.removeLocked(w)
	}
	delete(h.streams, s)
	h.mu.Unlock()
	close(s.done)
	<-s.exited
}

// room is how many more event responses the stream takes before its
// watchers must catch up instead.
func (s *Stream) room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.cfg.StreamBuffer - s.pending
}

// tryEnqueueEvents queues resp if the stream has room.
func (s *Stream) tryEnqueueEvents(resp *etcdserverpb.WatchResponse, w *watcher) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending >= s.h.cfg.StreamBuffer {
		return false
	}
	s.pushLocked(queued{resp: resp, events: true, prevKV: w.prevKV, fragment: w.fragment})
	return true
}

// enqueueCatchUp queues a catch-up response. The room was checked when the
// round was planned; a Notify in between may overfill the stream by at most
// one response per watcher caught up, which keeps it bounded.
func (s *Stream) enqueueCatchUp(resp *etcdserverpb.WatchResponse, w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(queued{resp: resp, events: true, prevKV: w.prevKV, fragment: w.fragment})
}

// enqueueControl queues a response that must not be lost (created, canceled,
// compacted): it does not count toward the event bound. There is at most
// one per client request.
func (s *Stream) enqueueControl(resp *etcdserverpb.WatchResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(queued{resp: resp})
}

// tryEnqueueProgress queues a periodic progress response unless the stream
// is full: a later tick or event will do.
func (s *Stream) tryEnqueueProgress(rev, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending >= s.h.cfg.StreamBuffer {
		return
	}
	s.pushLocked(queued{resp: &etcdserverpb.WatchResponse{
		Header:  &etcdserverpb.ResponseHeader{Revision: rev},
		WatchId: id,
	}})
}

func (s *Stream) pushLocked(q queued) {
	s.queue = append(s.queue, q)
	if q.events {
		s.pending++
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// send moves responses from the queue to Chan, one at a time, filling
// prev_kv and fragmenting on the way. Taking a response frees room; if a
// watcher of this stream is waiting for room, the hub's catch-up loop is
// woken.
func (s *Stream) send() {
	defer close(s.exited)
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.queue = s.queue[:0:0]
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		q := s.queue[0]
		s.queue[0] = queued{}
		s.queue = s.queue[1:]
		kick := false
		if q.events {
			s.pending--
			kick = s.unsynced > 0
		}
		s.mu.Unlock()
		if kick {
			s.h.kickSync()
		}
		for _, r := range s.h.prepare(q) {
			select {
			case s.out <- r:
			case <-s.done:
				return
			}
		}
	}
}

// prepare fills prev_kv and fragments a response as its watcher asked.
func (h *Hub) prepare(q queued) []*etcdserverpb.WatchResponse {
	r := q.resp
	if q.events {
		r.Events = h.withPrevKV(r.Events, q.prevKV)
	}
	if q.fragment {
		return fragment(r, h.cfg.MaxResponseBytes)
	}
	return []*etcdserverpb.WatchResponse{r}
}

// withPrevKV returns evs with PrevKv filled from History (the key's value at
// the revision before the event) when want is set, and cleared otherwise.
// Events are shared between watchers, so a changed event is a copy. A create
// has no previous value; a compacted one is left out, as etcd does.
func (h *Hub) withPrevKV(evs []*mvccpb.Event, want bool) []*mvccpb.Event {
	for i, ev := range evs {
		if !want {
			if ev.PrevKv != nil {
				evs[i] = &mvccpb.Event{Type: ev.Type, Kv: ev.Kv}
			}
			continue
		}
		c := &mvccpb.Event{Type: ev.Type, Kv: ev.Kv}
		isCreate := ev.Type == mvccpb.Event_PUT && ev.Kv.CreateRevision == ev.Kv.ModRevision
		if !isCreate {
			if kv, err := h.hist.KVAt(ev.Kv.Key, ev.Kv.ModRevision-1); err == nil && kv != nil {
				c.PrevKv = kv
			}
		}
		evs[i] = c
	}
	return evs
}
