package watch

import "bytes"

// index finds the synced watchers interested in a key. Single-key watchers,
// the common case, sit in a map so that a put costs one lookup whatever the
// number of watchers. Range watchers sit in groups, one per distinct range,
// and the groups in an interval tree (intervaltree.go), so that many
// clients watching the same prefix cost the tree one interval and a match
// one append per watcher. A watcher leaves its list in O(1) through the
// position kept in it. Nothing here allocates per event: matches are
// appended to a caller-owned slice.
type index struct {
	keys   map[string][]*watcher
	ranges intervalTree[rangeGroup]
	// nRanges counts the range watchers, over all groups.
	nRanges int
}

// rangeGroup is the synced watchers of one range. It lives in the range's
// node of the interval tree, which keeps it in place until the range
// leaves the tree.
type rangeGroup struct {
	ws []*watcher
}

func newIndex() index {
	return index{keys: make(map[string][]*watcher)}
}

func (ix *index) add(w *watcher) {
	if w.end == nil {
		k := string(w.key)
		ix.keys[k] = appendAt(ix.keys[k], w)
		return
	}
	g := ix.ranges.ref(w.key, w.end)
	g.ws = appendAt(g.ws, w)
	w.group = g
	ix.nRanges++
}

func (ix *index) remove(w *watcher) {
	if w.end == nil {
		k := string(w.key)
		if ws := removeAt(ix.keys[k], w); len(ws) == 0 {
			delete(ix.keys, k)
		} else {
			ix.keys[k] = ws
		}
		return
	}
	g := w.group
	if g.ws = removeAt(g.ws, w); len(g.ws) == 0 {
		ix.ranges.delete(w.key, w.end)
	}
	w.group = nil
	ix.nRanges--
}

// appendAt appends w to ws and records its position in w.
func appendAt(ws []*watcher, w *watcher) []*watcher {
	w.pos = len(ws)
	return append(ws, w)
}

// removeAt removes w from ws, at w.pos, by moving the last watcher into
// its place.
func removeAt(ws []*watcher, w *watcher) []*watcher {
	last := len(ws) - 1
	if w.pos > last || ws[w.pos] != w {
		panic("watch: watcher missing from its index") // broken invariant
	}
	ws[w.pos] = ws[last]
	ws[w.pos].pos = w.pos
	ws[last] = nil
	return ws[:last]
}

// match appends to dst the watchers whose range holds key.
func (ix *index) match(key []byte, dst []*watcher) []*watcher {
	dst = append(dst, ix.keys[string(key)]...)
	ix.ranges.stab(key, func(g *rangeGroup) { dst = append(dst, g.ws...) })
	return dst
}

func (ix *index) len() int {
	n := ix.nRanges
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
