package mvcc

import (
	"sort"
	"unsafe"
)

// generation is one life of a key: from the put that created it to the
// tombstone that deleted it. Every generation but the last of a keyIndex
// ends with its tombstone; the last one is open (and empty when the key
// is currently deleted).
type generation struct {
	ver     int64 // versions put in this life, tombstone included
	created int64 // main revision of the creating put
	// lease is the lease the live value is attached to (0 for none), kept
	// on the open life only. It lives here rather than in keyIndex, where
	// it would push a history with a short key inline (newKeyIndex) into
	// a larger size class; a generation has the room (40 bytes in a
	// 48-byte class).
	lease int64
	revs  []revision
}

// keyIndex is the history of one key, as revisions only: the values live
// in bbolt (or the uncommitted buffer) under those revisions.
type keyIndex struct {
	// key is never changed once the history is made, so keyBytes can
	// hand its bytes out without copying them.
	key  string
	gens []generation
}

// inlineKeyMax is the longest key newKeyIndex keeps in the history's own
// allocation.
const inlineKeyMax = 120

// newKeyIndex returns the history of a copy of key with one open, empty
// life. The slice of lives has room for that one only: most keys are never
// deleted, and a second life is rare enough to pay for growing the slice.
//
// A key of up to inlineKeyMax bytes is copied into the same allocation as
// the history, right behind it. Every comparison of a key index search
// reads a history's key through its pointer; with the bytes beside the
// string header that is one cache miss instead of two, and the search of
// a large index is bound by those misses. The inline room is chosen so
// that history and key together fill a size class of the allocator, so it
// costs no more memory than the two allocations it replaces (for 8-byte
// keys, 48 bytes instead of 48 + 8).
func newKeyIndex(key []byte) *keyIndex {
	switch n := len(key); {
	case n == 0:
		return &keyIndex{gens: make([]generation, 1)}
	case n <= 8:
		return inlineKeyIndex[[8]byte](key)
	case n <= 24:
		return inlineKeyIndex[[24]byte](key)
	case n <= 40:
		return inlineKeyIndex[[40]byte](key)
	case n <= 56:
		return inlineKeyIndex[[56]byte](key)
	case n <= 72:
		return inlineKeyIndex[[72]byte](key)
	case n <= 88:
		return inlineKeyIndex[[88]byte](key)
	case n <= 104:
		return inlineKeyIndex[[104]byte](key)
	case n <= inlineKeyMax:
		return inlineKeyIndex[[inlineKeyMax]byte](key)
	}
	return &keyIndex{key: string(key), gens: make([]generation, 1)}
}

// keyIndexWithKey is a history followed by room A for its key's bytes.
type keyIndexWithKey[A any] struct {
	ki  keyIndex
	buf A
}

// inlineKeyIndex allocates a history with key copied into the room behind
// it; key must be non-empty and fit in A, a byte array. The history's key
// points into that room, so the allocation lives as long as the history.
func inlineKeyIndex[A any](key []byte) *keyIndex {
	b := new(keyIndexWithKey[A])
	room := unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))
	n := copy(room, key)
	b.ki.key = unsafe.String(&room[0], n)
	b.ki.gens = make([]generation, 1)
	return &b.ki
}

// leaseID returns the lease the live value is attached to; 0 when none or
// deleted.
func (ki *keyIndex) leaseID() int64 { return ki.latest().lease }

// setLease records the lease the live value is attached to.
func (ki *keyIndex) setLease(id int64) { ki.latest().lease = id }

// keyBytes returns the key as bytes without copying them, for the
// KeyValues and events the store hands out, which nobody writes to.
func (ki *keyIndex) keyBytes() []byte { return unsafe.Slice(unsafe.StringData(ki.key), len(ki.key)) }

func (ki *keyIndex) put(r revision) {
	g := &ki.gens[len(ki.gens)-1]
	if len(g.revs) == 0 {
		g.created = r.main
	}
	g.revs = append(g.revs, r)
	g.ver++
}

func (ki *keyIndex) tombstone(r revision) {
	ki.put(r)
	ki.gens = append(ki.gens, generation{})
}

// live reports whether the key currently has a value.
func (ki *keyIndex) live() bool { return len(ki.gens[len(ki.gens)-1].revs) > 0 }

// latest returns the open generation (empty when the key is deleted).
func (ki *keyIndex) latest() *generation { return &ki.gens[len(ki.gens)-1] }

// at returns the revision of the value the key held at store revision rev,
// or false when it did not exist then.
func (ki *keyIndex) at(rev int64) (revision, bool) {
	for i := len(ki.gens) - 1; i >= 0; i-- {
		g := &ki.gens[i]
		if len(g.revs) == 0 || g.revs[0].main > rev {
			continue
		}
		last := len(g.revs) - 1
		if i < len(ki.gens)-1 && g.revs[last].main <= rev {
			return revision{}, false // deleted at or before rev
		}
		j := sort.Search(len(g.revs), func(k int) bool { return g.revs[k].main > rev }) - 1
		return g.revs[j], true
	}
	return revision{}, false
}

// compact drops every revision not needed to read at atRev or later: in
// each life only the latest revision at or below atRev and those after it
// stay; a life that ended below atRev goes whole. A tombstone exactly at
// atRev stays so that the history of revision atRev is complete (Events
// from atRev); the next compaction removes it. drop is called for each
// removed revision. compact reports whether nothing is left.
func (ki *keyIndex) compact(atRev int64, drop func(r revision, tomb bool)) (empty bool) {
	kept := ki.gens[:0]
	for i, g := range ki.gens {
		finished := i < len(ki.gens)-1
		if len(g.revs) == 0 {
			kept = append(kept, g)
			continue
		}
		last := len(g.revs) - 1
		if finished && g.revs[last].main < atRev {
			for j, r := range g.revs {
				drop(r, j == last)
			}
			continue
		}
		j := sort.Search(len(g.revs), func(k int) bool { return g.revs[k].main > atRev }) - 1
		if finished && g.revs[last].main == atRev {
			j = last
		}
		if j > 0 {
			for _, r := range g.revs[:j] {
				drop(r, false)
			}
			g.revs = append([]revision(nil), g.revs[j:]...)
		}
		kept = append(kept, g)
	}
	ki.gens = kept
	return len(kept) == 1 && len(kept[0].revs) == 0
}

// keptAt calls fn with each revision at or below atRev that compact(atRev)
// would keep: in each life that did not end below atRev, the latest
// revision at or below atRev (a tombstone exactly at atRev included).
func (ki *keyIndex) keptAt(atRev int64, fn func(revision)) {
	for i, g := range ki.gens {
		if len(g.revs) == 0 {
			continue
		}
		last := len(g.revs) - 1
		if i < len(ki.gens)-1 && g.revs[last].main < atRev {
			continue
		}
		if j := sort.Search(len(g.revs), func(k int) bool { return g.revs[k].main > atRev }) - 1; j >= 0 {
			fn(g.revs[j])
		}
	}
}
