package store

import (
	"sync"

	"google.golang.org/protobuf/proto"
)

// result is what applying a proposal produced.
type result struct {
	resp proto.Message
	err  error
}

// waitShards spreads pending proposals over several maps so that concurrent
// requests and the apply loop do not all contend on one lock.
const waitShards = 64

// waitList maps request ids to the channel their proposer waits on.
type waitList struct {
	shards [waitShards]struct {
		mu sync.Mutex
		m  map[uint64]chan result
	}
}

func newWaitList() *waitList {
	w := &waitList{}
	for i := range w.shards {
		w.shards[i].m = make(map[uint64]chan result)
	}
	return w
}

// register returns the channel the result of request id will arrive on.
func (w *waitList) register(id uint64) <-chan result {
	s := &w.shards[id%waitShards]
	ch := make(chan result, 1)
	s.mu.Lock()
	s.m[id] = ch
	s.mu.Unlock()
	return ch
}

// trigger delivers the result of request id if anyone waits for it.
func (w *waitList) trigger(id uint64, r result) {
	s := &w.shards[id%waitShards]
	s.mu.Lock()
	ch, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	if ok {
		ch <- r
	}
}

// cancel forgets request id (its proposer gave up).
func (w *waitList) cancel(id uint64) {
	s := &w.shards[id%waitShards]
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// failAll answers every pending request with err (on shutdown).
func (w *waitList) failAll(err error) {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for id, ch := range s.m {
			ch <- result{err: err}
			delete(s.m, id)
		}
		s.mu.Unlock()
	}
}

// indexWaiter lets readers wait until the applied index reaches a value.
type indexWaiter struct {
	mu      sync.Mutex
	applied uint64
	waiters []indexWait
}

type indexWait struct {
	index uint64
	ch    chan struct{}
}

// wait returns a channel closed once the applied index is at least index.
func (w *indexWaiter) wait(index uint64) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.applied >= index {
		close(ch)
		return ch
	}
	w.waiters = append(w.waiters, indexWait{index: index, ch: ch})
	return ch
}

// advance records that everything up to index is applied.
func (w *indexWaiter) advance(index uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if index <= w.applied {
		return
	}
	w.applied = index
	kept := w.waiters[:0]
	for _, iw := range w.waiters {
		if iw.index <= index {
			close(iw.ch)
		} else {
			kept = append(kept, iw)
		}
	}
	for i := len(kept); i < len(w.waiters); i++ {
		w.waiters[i] = indexWait{}
	}
	w.waiters = kept
}

func (w *indexWaiter) current() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.applied
}
