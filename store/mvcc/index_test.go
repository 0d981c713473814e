package mvcc

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestKeyIndexAt(t *testing.T) {
	ki := newKeyIndex([]byte("k"))
	ki.put(revision{2, 0})
	ki.put(revision{4, 1})
	ki.tombstone(revision{6, 0})
	ki.put(revision{8, 0})
	tests := []struct {
		rev  int64
		want int64 // main revision found, 0 = none
	}{{1, 0}, {2, 2}, {3, 2}, {4, 4}, {5, 4}, {6, 0}, {7, 0}, {8, 8}, {100, 8}}
	for _, tt := range tests {
		t.Run(fmt.Sprint("at=", tt.rev), func(t *testing.T) {
			r, ok := ki.at(tt.rev)
			if ok != (tt.want != 0) || r.main != tt.want {
				t.Fatalf("at(%d) = %v %v, want %d", tt.rev, r, ok, tt.want)
			}
		})
	}
	var dropped []revision
	ki.compact(5, func(r revision, _ bool) { dropped = append(dropped, r) })
	if len(dropped) != 1 || dropped[0].main != 2 {
		t.Fatalf("compact(5) dropped %v", dropped)
	}
	if r, ok := ki.at(5); !ok || r.main != 4 {
		t.Fatalf("at(5) after compaction = %v %v", r, ok)
	}
}

// TestKeptAtMatchesCompact checks keptAt, which HashKV uses to leave out
// what a compaction would remove, against compact itself on random
// histories: at every revision, keptAt names exactly the revisions at or
// below it that compact keeps.
func TestKeptAtMatchesCompact(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 300; n++ {
		ki := newKeyIndex([]byte("k"))
		rev := int64(1)
		for i := rnd.IntN(12); i >= 0; i-- {
			rev += 1 + int64(rnd.IntN(3))
			if ki.live() && rnd.IntN(4) == 0 {
				ki.tombstone(revision{main: rev})
			} else {
				ki.put(revision{main: rev, sub: int64(rnd.IntN(2))})
			}
		}
		for at := int64(1); at <= rev+1; at++ {
			var kept []revision
			ki.keptAt(at, func(r revision) { kept = append(kept, r) })
			var survived []revision
			cp := copyKeyIndex(ki)
			cp.compact(at, func(revision, bool) {})
			for _, g := range cp.gens {
				for _, r := range g.revs {
					if r.main <= at {
						survived = append(survived, r)
					}
				}
			}
			if fmt.Sprint(kept) != fmt.Sprint(survived) {
				t.Fatalf("history %v at %d: keptAt %v, compact keeps %v", ki.gens, at, kept, survived)
			}
		}
	}
}

func copyKeyIndex(ki *keyIndex) *keyIndex {
	cp := &keyIndex{key: ki.key, gens: make([]generation, len(ki.gens))}
	for i, g := range ki.gens {
		cp.gens[i] = generation{ver: g.ver, created: g.created, lease: g.lease, revs: append([]revision(nil), g.revs...)}
	}
	return cp
}
