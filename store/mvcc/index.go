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
	revs    []revision
}

// keyIndex is the history of one key, as revisions only: the values live
// in bbolt (or the uncommitted buffer) under those revisions.
type keyIndex struct {
	// key is never changed once the history is made, so keyBytes can
	// hand its bytes out without copying them.
	key   string
	gens  []generation
	lease int64 // lease the live value is attached to; 0 when none or deleted
}

// newKeyIndex returns the history of a key with one open, empty life. The
// slice of lives has room for that one only: most keys are never deleted,
// and a second life is rare enough to pay for growing the slice.
func newKeyIndex(key string) *keyIndex {
	return &keyIndex{key: key, gens: make([]generation, 1)}
}

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
