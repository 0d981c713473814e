package latency

import (
	"sync"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	tests := []struct {
		name       string
		samples    []time.Duration
		wantBucket []uint64 // bucket upper bounds, one per sample
		p99        uint64
	}{
		{"empty", nil, nil, 0},
		{"a microsecond flush", []time.Duration{time.Microsecond}, []uint64{1953}, 1953},
		{"below the first bound", []time.Duration{500 * time.Nanosecond}, []uint64{976}, 976},
		{"a fast NVMe sync", []time.Duration{40 * time.Microsecond}, []uint64{62500}, 62500},
		{"etcd's first bound is one of ours", []time.Duration{700 * time.Microsecond}, []uint64{1e6}, 1e6},
		{"exact bound is inclusive", []time.Duration{2 * time.Millisecond}, []uint64{2e6}, 2e6},
		{"slow syncs", []time.Duration{3 * time.Millisecond, 9 * time.Second}, []uint64{4e6, ^uint64(0)}, ^uint64(0)},
		{"a negative duration counts as zero", []time.Duration{-5}, []uint64{976}, 976},
		{"p99 reaches a tail of two in a hundred", append(repeat(98, 10*time.Microsecond), 50*time.Millisecond, 60*time.Millisecond), []uint64{15625, 64e6}, 64e6},
		{"p99 of one slow sample in a hundred is the fast bucket", append(repeat(99, 10*time.Microsecond), 50*time.Millisecond), []uint64{15625, 64e6}, 15625},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			var sum uint64
			for _, d := range tt.samples {
				h.Record(d)
				sum += uint64(max(d, 0))
			}
			s := h.Snapshot()
			if s.Count != uint64(len(tt.samples)) || s.SumNanos != sum {
				t.Fatalf("count %d sum %d", s.Count, s.SumNanos)
			}
			for _, want := range tt.wantBucket {
				found := false
				for _, b := range s.Buckets {
					if b.UpperNanos == want && b.Count > 0 {
						found = true
					}
				}
				if !found {
					t.Fatalf("no sample in bucket %d: %+v", want, s.Buckets)
				}
			}
			if got := s.Quantile(0.99); got != tt.p99 {
				t.Fatalf("p99 = %d, want %d", got, tt.p99)
			}
		})
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				h.Record(time.Duration(i) * time.Microsecond)
				_ = h.Snapshot()
			}
		}()
	}
	wg.Wait()
	if h.Snapshot().Count != 4000 {
		t.Fatalf("count = %d", h.Snapshot().Count)
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
