package adr

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPersist measures Flush+Fence of a freshly stored range in an
// emulated region, with each flush instruction this CPU has and with none
// (what eADR costs: the fence alone). Each iteration dirties one byte per
// line of the next range, as a log append would, so the lines are not
// already clean. The region is on the test's temporary directory; the
// mapping behaves as on tmpfs once its pages are faulted in.
func BenchmarkPersist(b *testing.B) {
	const regionSize = 4 << 20
	kinds := append(detectCPU().kinds(), flushNone)
	for _, k := range kinds {
		for _, n := range []int{64, 256, 4096} {
			b.Run(fmt.Sprintf("kind=emulated/flush=%s/bytes=%d", k, n), func(b *testing.B) {
				cfg := RegionConfig{Kind: KindEmulated, Path: filepath.Join(b.TempDir(), "r.pmem"), Size: regionSize}
				r, err := Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := r.Close(); err != nil {
						b.Error(err)
					}
				}()
				m := r.(*mapped)
				m.flush, m.info.Flush = k, k.String()
				mem := r.Bytes()
				// Fault every page in first: the benchmark is the flush,
				// not the kernel populating the mapping.
				for p := 0; p < len(mem); p += regionPageSize {
					mem[p] = 0
				}
				b.SetBytes(int64(n))
				b.ResetTimer()
				off := 0
				for i := 0; i < b.N; i++ {
					if off+n > len(mem) {
						off = 0
					}
					for l := off; l < off+n; l += LineSize {
						mem[l]++
					}
					Persist(r, off, n)
					off += n
				}
				b.ReportMetric(float64(lineSpan(0, n)), "lines/op")
			})
		}
	}
}
