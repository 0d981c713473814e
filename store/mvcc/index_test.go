package mvcc

import (
	"fmt"
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
