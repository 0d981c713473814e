package mvcc

import "bytes"

// treeIndex holds the history of every key the store has not compacted
// away, by key: point lookups for puts and single-key reads, ordered scans
// for ranges, a full walk for compaction.
//
// It is not safe for concurrent mutation. The Store mutates it under mu
// held for writing and reads it (get, ascend, len) under mu held for
// reading, from any number of goroutines at once.
type treeIndex struct {
	keys  map[string]*keyIndex
	order *skiplist
}

func newTreeIndex() *treeIndex {
	return &treeIndex{keys: make(map[string]*keyIndex), order: newSkiplist()}
}

// get returns the history of key, or nil when the index has none.
func (t *treeIndex) get(key []byte) *keyIndex { return t.keys[string(key)] }

// create adds an empty history for key, which must not be in the index,
// and returns it. The index keeps its own copy of key.
func (t *treeIndex) create(key []byte) *keyIndex {
	ki := newKeyIndex(bytes.Clone(key))
	t.keys[string(ki.key)] = ki
	t.order.insert(ki)
	return ki
}

// len returns the number of keys in the index.
func (t *treeIndex) len() int { return len(t.keys) }

// ascend calls fn, in key order, for each key in [from, to) until fn
// returns false; to nil means no upper bound.
func (t *treeIndex) ascend(from, to []byte, fn func(ki *keyIndex) bool) {
	for n := t.order.seek(from); n != nil; n = n.next[0] {
		if to != nil && bytes.Compare(n.ki.key, to) >= 0 {
			return
		}
		if !fn(n.ki) {
			return
		}
	}
}

// compact compacts every key's history at atRev (see keyIndex.compact),
// calling drop for each revision removed, and removes the keys left with
// no history.
func (t *treeIndex) compact(atRev int64, drop func(r revision, tomb bool)) {
	var empty []*keyIndex
	for n := t.order.first(); n != nil; n = n.next[0] {
		if n.ki.compact(atRev, drop) {
			empty = append(empty, n.ki)
		}
	}
	for _, ki := range empty {
		delete(t.keys, string(ki.key))
		t.order.remove(ki.key)
	}
}
