package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/btree"
)

// indexDegree is the B-tree's degree (a node holds up to 2*degree-1
// keys), etcd's choice for its own key index.
const indexDegree = 32

// treeIndex holds the history of every key the store has not compacted
// away. A B-tree orders the histories by key, for range scans and for
// compaction's walk; a map finds one history without a search, for the
// lookups every put, single-key read and prev_kv makes.
//
// It is not safe for concurrent mutation. The Store mutates it under mu
// held for writing and reads it (get, ascend, len) under mu held for
// reading, from any number of goroutines at once: neither the map's nor
// the B-tree's read operations write to them.
type treeIndex struct {
	keys map[string]*keyIndex
	tree *btree.BTreeG[indexItem]
}

// indexItem is a key's place in the B-tree. A search compares items held
// side by side in a node's array: the key's first eight bytes, stored in
// the item, settle most comparisons without leaving that array, and the
// rest compare the key's string, one pointer away, not the keyIndex's
// slice, two.
type indexItem struct {
	prefix uint64 // the key's first eight bytes, big-endian, zero-padded
	key    string // the key; the same string the map holds
	ki     *keyIndex
}

// newIndexItem returns key's item. Zero padding keeps the order: a key
// shorter than eight bytes that ties on the padded prefix with a longer
// one is a prefix of it and is ordered first by the string comparison.
func newIndexItem(key string, ki *keyIndex) indexItem {
	var b [8]byte
	copy(b[:], key)
	return indexItem{prefix: binary.BigEndian.Uint64(b[:]), key: key, ki: ki}
}

func itemLess(a, b indexItem) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return a.key < b.key
}

func newTreeIndex() *treeIndex {
	return &treeIndex{
		keys: make(map[string]*keyIndex),
		tree: btree.NewG(indexDegree, itemLess),
	}
}

// get returns the history of key, or nil when the index has none.
func (t *treeIndex) get(key []byte) *keyIndex { return t.keys[string(key)] }

// create adds an empty history for key, which must not be in the index,
// and returns it. The index keeps its own copy of key.
func (t *treeIndex) create(key []byte) *keyIndex {
	ki := newKeyIndex(bytes.Clone(key))
	k := string(key)
	if _, found := t.tree.ReplaceOrInsert(newIndexItem(k, ki)); found {
		panic(fmt.Sprintf("mvcc: key %q created twice in the index", key)) // broken invariant
	}
	t.keys[k] = ki
	return ki
}

// len returns the number of keys in the index.
func (t *treeIndex) len() int { return len(t.keys) }

// ascend calls fn, in key order, for each key in [from, to) until fn
// returns false; to nil means no upper bound.
func (t *treeIndex) ascend(from, to []byte, fn func(ki *keyIndex) bool) {
	// The B-tree compares items, so the bounds travel as items without
	// a history.
	visit := func(it indexItem) bool { return fn(it.ki) }
	if to == nil {
		t.tree.AscendGreaterOrEqual(newIndexItem(string(from), nil), visit)
		return
	}
	t.tree.AscendRange(newIndexItem(string(from), nil), newIndexItem(string(to), nil), visit)
}

// compact compacts every key's history at atRev (see keyIndex.compact),
// calling drop for each revision removed, and removes the keys left with
// no history.
func (t *treeIndex) compact(atRev int64, drop func(r revision, tomb bool)) {
	var empty []indexItem
	t.tree.Ascend(func(it indexItem) bool {
		if it.ki.compact(atRev, drop) {
			empty = append(empty, it)
		}
		return true
	})
	for _, it := range empty {
		t.tree.Delete(it)
		delete(t.keys, it.key)
	}
}
