package watch

import "bytes"

// index finds the synced watchers interested in a key. Single-key watchers,
// the common case, sit in a map so that a put costs one lookup whatever the
// number of watchers, and leave it in O(1) through the position kept in the
// watcher; range watchers sit in an interval treap (rangetree.go). Nothing
// here allocates per event: matches are appended to a caller-owned slice.
type index struct {
	keys   map[string][]*watcher
	ranges rangeTree
}

func newIndex() index {
	return index{keys: make(map[string][]*watcher)}
}

func (ix *index) add(w *watcher) {
	if w.end == nil {
		k := string(w.key)
		ws := ix.keys[k]
		w.pos = len(ws)
		ix.keys[k] = append(ws, w)
		return
	}
	ix.ranges.add(w)
}

func (ix *index) remove(w *watcher) {
	if w.end == nil {
		k := string(w.key)
		ws := ix.keys[k]
		last := len(ws) - 1
		ws[w.pos] = ws[last]
		ws[w.pos].pos = w.pos
		ws[last] = nil
		if last == 0 {
			delete(ix.keys, k)
		} else {
			ix.keys[k] = ws[:last]
		}
		return
	}
	ix.ranges.remove(w)
}

// match appends to dst the watchers whose range holds key.
func (ix *index) match(key []byte, dst []*watcher) []*watcher {
	dst = append(dst, ix.keys[string(key)]...)
	return ix.ranges.match(key, dst)
}

func (ix *index) len() int {
	n := ix.ranges.n
	for _, ws := range ix.keys {
		n += len(ws)
	}
	return n
}

// holds reports whether key is in the watcher's range. An empty, non-nil end
// means every key at or above w.key (etcd's range_end "\x00").
func (w *watcher) holds(key []byte) bool {
	if w.end == nil {
		return bytes.Equal(key, w.key)
	}
	if bytes.Compare(key, w.key) < 0 {
		return false
	}
	return len(w.end) == 0 || bytes.Compare(key, w.end) < 0
}
