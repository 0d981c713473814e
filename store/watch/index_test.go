package watch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexMatchesBruteForce drives the index with random adds and removes
// of single-key, bounded and open-ended watchers and checks every lookup
// against a scan of the live watchers.
func TestIndexMatchesBruteForce(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys int
		ops  int
	}{
		{name: "dense", keys: 8, ops: 2000},
		{name: "sparse", keys: 200, ops: 3000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tt.keys)))
			key := func() []byte { return fmt.Appendf(nil, "k%03d", rng.IntN(tt.keys)) }
			ix := newIndex()
			var live []*watcher
			for i := range tt.ops {
				if len(live) > 0 && rng.IntN(3) == 0 {
					j := rng.IntN(len(live))
					ix.remove(live[j])
					live = slices.Delete(live, j, j+1)
				} else {
					w := &watcher{id: int64(i), key: key()}
					switch rng.IntN(3) {
					case 1:
						w.end = []byte{}
					case 2:
						w.end = append(key(), '~')
					}
					ix.add(w)
					live = append(live, w)
				}
				probe := key()
				got := ix.match(probe, nil)
				var want []*watcher
				for _, w := range live {
					if w.holds(probe) {
						want = append(want, w)
					}
				}
				byID := func(a, b *watcher) int { return int(a.id - b.id) }
				slices.SortFunc(got, byID)
				slices.SortFunc(want, byID)
				if !slices.Equal(got, want) {
					t.Fatalf("op %d: match(%q) found %d watchers, want %d", i, probe, len(got), len(want))
				}
				if ix.len() != len(live) {
					t.Fatalf("op %d: len %d, want %d", i, ix.len(), len(live))
				}
			}
		})
	}
}
