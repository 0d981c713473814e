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
// away, in a B-tree ordered by key: for range scans, compaction's walk and
// the lookups every put, single-key read and prev_kv makes. It has no map
// beside the tree, as etcd's treeIndex has none: at a million keys a map
// from key to history cost 56 heap bytes per key, more than a third of the
// index, for lookups a tree search answers in a few hundred nanoseconds.
//
// It is not safe for concurrent mutation. The Store mutates it under mu
// held for writing and reads it (get, ascend, len) under mu held for
// reading, from any number of goroutines at once: the B-tree's read
// operations do not write to it.
type treeIndex struct {
	tree *btree.BTreeG[*keyIndex]
}

func keyLess(a, b *keyIndex) bool { return a.key < b.key }

func newTreeIndex() *treeIndex {
	return &treeIndex{tree: btree.NewG(indexDegree, keyLess)}
}

// get returns the history of key, or nil when the index has none. The
// probe views key's bytes, which the search does not outlive.
func (t *treeIndex) get(key []byte) *keyIndex {
	ki, _ := t.tree.Get(&keyIndex{key: bytesView(key)})
	return ki
}

// create adds an empty history for key, which must not be in the index,
// and returns it. The index keeps its own copy of key.
func (t *treeIndex) create(key []byte) *keyIndex {
	ki := newKeyIndex(key)
	if _, found := t.tree.ReplaceOrInsert(ki); found {
		panic(fmt.Sprintf("mvcc: key %q created twice in the index", key)) // broken invariant
	}
	return ki
}

// bytesView returns b as a string without copying it; b must not change
// while the string is in use.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// len returns the number of keys in the index.
func (t *treeIndex) len() int { return t.tree.Len() }

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
	}
}
