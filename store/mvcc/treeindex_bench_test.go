package mvcc

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// indexSizes returns the key counts the index benchmarks run at.
func indexSizes() []int { return []int{10_000, 100_000, 1_000_000} }

// benchKey is the i-th key in key order: 16 bytes, like a short etcd key.
func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%012d", i) }

// buildIndex creates keys 0..n-1 in a random order, one put each, at
// revisions 2..n+1, and returns the index and the next free revision.
func buildIndex(n int, keys [][]byte, order []int) (*treeIndex, int64) {
	ix := newTreeIndex()
	rev := int64(2)
	for _, i := range order[:n] {
		ix.create(keys[i]).put(revision{main: rev})
		rev++
	}
	return ix, rev
}

func benchKeys(n int) ([][]byte, []int) {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	return keys, rand.New(rand.NewPCG(1, uint64(n))).Perm(n)
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIndexBuild builds an index of N keys from empty, in random key
// order, one put per key: the cost of creating keys, and, as B/key, the
// heap the index holds per key (the key's bytes, its history and the
// ordered structure around it).
func BenchmarkIndexBuild(b *testing.B) {
	for _, n := range indexSizes() {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys, order := benchKeys(n)
			var ix *treeIndex
			before := heapInUse()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ix, _ = buildIndex(n, keys, order)
			}
			b.StopTimer()
			// The last index is the only one alive: the collection in
			// heapInUse frees the others.
			after := heapInUse()
			if ix.len() != n {
				b.Fatalf("index holds %d keys, want %d", ix.len(), n)
			}
			runtime.KeepAlive(ix)
			b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "B/key")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}

// indexFixture is an index of n keys built on first use and shared by the
// sub-benchmarks of one size: a sub-benchmark's function runs more than
// once, building a large index takes seconds, and sizes a -bench pattern
// leaves out are never built.
type indexFixture struct {
	n     int
	keys  [][]byte
	order []int
	ix    *treeIndex
	rev   int64 // the next free revision
}

func (f *indexFixture) build(b *testing.B) {
	if f.ix != nil {
		return
	}
	b.StopTimer()
	defer b.StartTimer()
	f.keys, f.order = benchKeys(f.n)
	f.ix, f.rev = buildIndex(f.n, f.keys, f.order)
}

// BenchmarkIndexPut is the index's share of a put to an existing key:
// find the key's history and add a revision, keys drawn at random.
func BenchmarkIndexPut(b *testing.B) {
	for _, n := range indexSizes() {
		f := &indexFixture{n: n}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			f.build(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := f.keys[f.order[i%n]]
				ki := f.ix.get(k)
				if ki == nil {
					ki = f.ix.create(k)
				}
				ki.put(revision{main: f.rev})
				f.rev++
			}
		})
	}
}

// BenchmarkIndexRange scans span consecutive keys from a random start at
// the current revision, as a range read plans its revisions; span=1 is a
// single-key read, which goes through get.
func BenchmarkIndexRange(b *testing.B) {
	for _, n := range indexSizes() {
		f := &indexFixture{n: n}
		for _, span := range []int{1, 10, 1000} {
			b.Run(fmt.Sprintf("keys=%d/span=%d", n, span), func(b *testing.B) {
				f.build(b)
				b.ReportAllocs()
				b.ResetTimer()
				found := 0
				for i := range b.N {
					start := f.order[i%n] % (n - span)
					if span == 1 {
						if ki := f.ix.get(f.keys[start]); ki != nil {
							if _, ok := ki.at(f.rev); ok {
								found++
							}
						}
						continue
					}
					f.ix.ascend(f.keys[start], f.keys[start+span], func(ki *keyIndex) bool {
						if _, ok := ki.at(f.rev); ok {
							found++
						}
						return true
					})
				}
				b.StopTimer()
				if found == 0 {
					b.Fatal("no key found")
				}
			})
		}
	}
}

// BenchmarkIndexCompact times compaction of an index of N keys that each
// got one more write since the last compaction; a tenth of them were
// deleted, so each compaction also removes N/10 keys from the index, and
// the next round creates them again. Only the compaction is timed.
func BenchmarkIndexCompact(b *testing.B) {
	for _, n := range indexSizes() {
		f := &indexFixture{n: n}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			f.build(b)
			dropped := 0
			drop := func(revision, bool) { dropped++ }
			b.ReportAllocs()
			b.ResetTimer()
			for round := range b.N {
				b.StopTimer()
				for _, i := range f.order {
					ki := f.ix.get(f.keys[i])
					switch {
					case ki == nil:
						f.ix.create(f.keys[i]).put(revision{main: f.rev})
					case i%10 == round%10 && ki.live():
						ki.tombstone(revision{main: f.rev})
					default:
						ki.put(revision{main: f.rev})
					}
					f.rev++
				}
				b.StartTimer()
				f.ix.compact(f.rev-1, drop)
			}
			b.StopTimer()
			if dropped == 0 {
				b.Fatal("compaction dropped nothing")
			}
		})
	}
}
