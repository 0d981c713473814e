// Package watchtest provides an in-memory watch.History for tests of the
// watch hub and of anything built on it.
package watchtest

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// ErrCompacted is returned for reads at or below the compacted revision.
var ErrCompacted = errors.New("watchtest: required revision has been compacted")

// IsCompacted reports whether err is ErrCompacted; pass it as
// watch.Config.IsCompacted.
func IsCompacted(err error) bool { return errors.Is(err, ErrCompacted) }

// Op is one write of a transaction: a put, or a delete when Delete is set.
type Op struct {
	Key, Value string
	Delete     bool
}

// History is an in-memory MVCC history. Writes are serialised and each one
// is handed to Notify after it becomes readable, as the real store does.
// Compaction only moves the compacted revision; nothing is freed.
type History struct {
	notify func(rev int64, evs []*mvccpb.Event)

	writeMu sync.Mutex // serialises writes and their Notify calls

	mu      sync.RWMutex
	rev     int64
	compact int64
	events  []*mvccpb.Event            // every event, in revision order
	byKey   map[string][]*mvccpb.Event // every event of a key, in revision order
}

// New returns an empty history at revision 1 (etcd's first revision).
func New() *History {
	return &History{rev: 1, byKey: make(map[string][]*mvccpb.Event)}
}

// SetNotify sets the function each write is reported to; set it before the
// first write.
func (h *History) SetNotify(fn func(rev int64, evs []*mvccpb.Event)) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.notify = fn
}

// Put writes one key in its own revision and returns the revision.
func (h *History) Put(key, value string) int64 {
	return h.Txn(Op{Key: key, Value: value})
}

// Delete deletes one key in its own revision. Deleting a missing key
// changes nothing and returns the current revision, as etcd does.
func (h *History) Delete(key string) int64 {
	return h.Txn(Op{Key: key, Delete: true})
}

// Txn applies ops in one revision and returns it. Ops that change nothing
// (deleting a missing key) make no event; a Txn with no events makes no
// revision.
func (h *History) Txn(ops ...Op) int64 {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	rev := h.rev + 1
	var evs []*mvccpb.Event
	for _, op := range ops {
		prev := h.liveLocked([]byte(op.Key), h.rev)
		if op.Delete {
			if prev == nil {
				continue
			}
			evs = append(evs, &mvccpb.Event{Type: mvccpb.Event_DELETE, Kv: &mvccpb.KeyValue{Key: []byte(op.Key), ModRevision: rev}})
			continue
		}
		kv := &mvccpb.KeyValue{Key: []byte(op.Key), Value: []byte(op.Value), ModRevision: rev, CreateRevision: rev, Version: 1}
		if prev != nil {
			kv.CreateRevision = prev.CreateRevision
			kv.Version = prev.Version + 1
		}
		evs = append(evs, &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: kv})
	}
	if len(evs) == 0 {
		h.mu.Unlock()
		return h.rev
	}
	h.rev = rev
	for _, ev := range evs {
		h.events = append(h.events, ev)
		k := string(ev.Kv.Key)
		h.byKey[k] = append(h.byKey[k], ev)
	}
	notify := h.notify
	h.mu.Unlock()
	if notify != nil {
		notify(rev, evs)
	}
	return rev
}

// Compact makes every revision at or below rev unreadable.
func (h *History) Compact(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.compact = max(h.compact, rev)
}

// Rev implements watch.History.
func (h *History) Rev() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rev
}

// CompactRev implements watch.History.
func (h *History) CompactRev() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.compact
}

// Events implements watch.History.
func (h *History) Events(key, end []byte, fromRev, toRev int64, limit int) ([]*mvccpb.Event, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if fromRev <= h.compact {
		return nil, fmt.Errorf("events from %d, compacted at %d: %w", fromRev, h.compact, ErrCompacted)
	}
	i := sort.Search(len(h.events), func(i int) bool { return h.events[i].Kv.ModRevision >= fromRev })
	var out []*mvccpb.Event
	for ; i < len(h.events) && h.events[i].Kv.ModRevision <= toRev; i++ {
		ev := h.events[i]
		if !InRange(ev.Kv.Key, key, end) {
			continue
		}
		out = append(out, ev)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// KVAt implements watch.History.
func (h *History) KVAt(key []byte, rev int64) (*mvccpb.KeyValue, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if rev < h.compact {
		return nil, fmt.Errorf("kv at %d, compacted at %d: %w", rev, h.compact, ErrCompacted)
	}
	return h.liveLocked(key, rev), nil
}

func (h *History) liveLocked(key []byte, rev int64) *mvccpb.KeyValue {
	evs := h.byKey[string(key)]
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Kv.ModRevision > rev })
	if i == 0 || evs[i-1].Type == mvccpb.Event_DELETE {
		return nil
	}
	return evs[i-1].Kv
}

// All returns every event ever written, in order, for building expected
// sequences in tests.
func (h *History) All() []*mvccpb.Event {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*mvccpb.Event(nil), h.events...)
}

// InRange reports whether k is in the watch range [key, end) with etcd's
// conventions: end nil is key alone, end "\x00" or empty non-nil is every
// key >= key.
func InRange(k, key, end []byte) bool {
	if end == nil {
		return bytes.Equal(k, key)
	}
	if bytes.Compare(k, key) < 0 {
		return false
	}
	if len(end) == 0 || (len(end) == 1 && end[0] == 0) {
		return true
	}
	return bytes.Compare(k, end) < 0
}
