package mvcc

import (
	"fmt"
	"unsafe"

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
	tree *btree.BTreeG[*keyIndex]
}

func keyLess(a, b *keyIndex) bool { return a.key < b.key }

func newTreeIndex() *treeIndex {
	return &treeIndex{
		keys: make(map[string]*keyIndex),
		tree: btree.NewG(indexDegree, keyLess),
	}
}

// get returns the history of key, or nil when the index has none.
func (t *treeIndex) get(key []byte) *keyIndex { return t.keys[string(key)] }

// create adds an empty history for key, which must not be in the index,
// and returns it. The index keeps its own copy of key, one string for the
// map and the history both.
func (t *treeIndex) create(key []byte) *keyIndex {
	k := string(key)
	ki := newKeyIndex(k)
	if _, found := t.tree.ReplaceOrInsert(ki); found {
		panic(fmt.Sprintf("mvcc: key %q created twice in the index", key)) // broken invariant
	}
	t.keys[k] = ki
	return ki
}

// bytesView returns b as a string without copying it; b must not change
// while the string is in use.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// len returns the number of keys in the index.
func (t *treeIndex) len() int { return len(t.keys) }

// ascend calls fn, in key order, for each key in [from, to) until fn
// returns false; to nil means no upper bound.
func (t *treeIndex) ascend(from, to []byte, fn func(ki *keyIndex) bool) {
	// The B-tree compares items, so the bounds travel as keyIndexes; they
	// cost an allocation each, as they escape into the comparisons. Their
	// keys view the caller's bytes, which the walk does not outlive.
	if to == nil {
		t.tree.AscendGreaterOrEqual(&keyIndex{key: bytesView(from)}, fn)
		return
	}
	t.tree.AscendRange(&keyIndex{key: bytesView(from)}, &keyIndex{key: bytesView(to)}, fn)
}

// compact compacts every key's history at atRev (see keyIndex.compact),
// calling drop for each revision removed, and removes the keys left with
// no history.
func (t *treeIndex) compact(atRev int64, drop func(r revision, tomb bool)) {
	var empty []*keyIndex
	t.tree.Ascend(func(ki *keyIndex) bool {
		if ki.compact(atRev, drop) {
			empty = append(empty, ki)
		}
		return true
	})
	for _, ki := range empty {
		t.tree.Delete(ki)
		delete(t.keys, ki.key)
	}
}
