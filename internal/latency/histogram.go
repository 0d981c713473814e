package latency

import (
	"math"
	"sync/atomic"
	"time"
)

// bucketsNanos are the upper bounds of the buckets: 1 ms doubling to
// 8.192 s are the buckets of etcd's disk latency histograms; below them the
// same doubling continues down to about 1 µs, because an NVMe drive with
// power-loss protection syncs in tens of microseconds and the adr backend
// flushes and fences in a few, which etcd's first bucket would lump
// together as "under 1 ms". A last bucket (math.MaxUint64) takes the rest.
var bucketsNanos = [...]uint64{
	976, 1953, 3906, 7812, 15625, 31250, 62500, 125e3, 250e3, 500e3,
	1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6, 256e6, 512e6,
	1024e6, 2048e6, 4096e6, 8192e6, math.MaxUint64,
}

// Histogram counts latencies into fixed buckets with atomics only, so
// Snapshot never waits for a writer. The zero value is ready to use.
type Histogram struct {
	counts [len(bucketsNanos)]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64
}

// Record adds one sample; a negative duration counts as zero.
func (h *Histogram) Record(d time.Duration) {
	ns := uint64(max(d, 0))
	i := 0
	for ns > bucketsNanos[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(ns)
	h.count.Add(1)
}

// Snapshot copies the histogram. Under concurrent Record calls the copy may
// be off by the samples in flight, never torn within a counter.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{
		Count:    h.count.Load(),
		SumNanos: h.sum.Load(),
		Buckets:  make([]Bucket, len(bucketsNanos)),
	}
	for i := range bucketsNanos {
		s.Buckets[i] = Bucket{UpperNanos: bucketsNanos[i], Count: h.counts[i].Load()}
	}
	return s
}

// Snapshot is a copy of a latency histogram: bucket upper bounds in
// nanoseconds and the count of samples at or below each (not cumulative),
// plus the exact sum and count, enough for Prometheus histograms and for
// percentiles.
type Snapshot struct {
	Count    uint64
	SumNanos uint64
	// Buckets are in increasing order of UpperNanos.
	Buckets []Bucket
}

// Bucket is one histogram bucket.
type Bucket struct {
	UpperNanos uint64
	Count      uint64
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1)
// of the samples, 0 without samples: a bound, not an estimate, as the
// buckets are coarse.
func (s Snapshot) Quantile(q float64) uint64 {
	var total uint64
	for _, b := range s.Buckets {
		total += b.Count
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for _, b := range s.Buckets {
		seen += b.Count
		if seen >= rank && b.Count > 0 {
			return b.UpperNanos
		}
	}
	return s.Buckets[len(s.Buckets)-1].UpperNanos
}
