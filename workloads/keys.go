package workloads

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// zipf draws from a zipfian distribution over [0, n) with Gray et al.'s
// method ("Quickly generating billion-record synthetic databases", 1994), as
// YCSB's ZipfianGenerator does. It is read-only after construction, so all
// workers share one; each brings its own rand.
type zipf struct {
	n                   float64
	theta, alpha, zetan float64
	eta, half           float64
}

func newZipf(n int, theta float64) *zipf {
	var zetan float64
	for i := 1; i <= n; i++ {
		zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + math.Pow(0.5, theta)
	return &zipf{
		n:     float64(n),
		theta: theta,
		alpha: 1 / (1 - theta),
		zetan: zetan,
		eta:   (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/zetan),
		half:  1 + math.Pow(0.5, theta),
	}
}

// next returns a rank in [0, n): 0 is the most popular.
func (z *zipf) next(r *rand.Rand) int {
	u := r.Float64()
	uz := u * z.zetan
	if uz < 1 || z.n < 2 {
		return 0
	}
	if uz < z.half {
		return 1
	}
	v := int(z.n * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(v, int(z.n)-1)
}

// fnv64 scrambles a zipfian rank so hot keys are spread over the key space
// (FNV-1a over the rank's 8 bytes, as YCSB's scrambled generator does).
func fnv64(v uint64) uint64 {
	h := uint64(14695981039346656037)
	for range 8 {
		h ^= v & 0xff
		h *= 1099511628211
		v >>= 8
	}
	return h
}

// keyChooser is the shared, read-mostly part of key choice.
type keyChooser struct {
	dist     string
	space    int
	zipf     *zipf
	hotKeys  int
	hotOps   float64
	inserted *atomic.Int64 // keys that exist: KeySpace plus inserts so far
	seq      *atomic.Int64 // the sequential distribution's cursor
}

// existing returns the index of a key that exists (or existed) for a read,
// update, scan, delete or CAS.
func (k *keyChooser) existing(r *rand.Rand) int {
	switch k.dist {
	case Zipfian:
		return int(fnv64(uint64(k.zipf.next(r))) % uint64(k.space))
	case Latest:
		// The newest key is the most popular; zipf ranks count back.
		n := int(k.inserted.Load())
		i := n - 1 - k.zipf.next(r)
		if i < 0 {
			i = 0
		}
		return i
	case Hotspot:
		if k.hotKeys < k.space && r.Float64() >= k.hotOps {
			return k.hotKeys + r.IntN(k.space-k.hotKeys)
		}
		return r.IntN(k.hotKeys)
	case Sequential:
		return int((k.seq.Add(1) - 1) % int64(k.space))
	default:
		return r.IntN(k.space)
	}
}

// insert returns the index of a new key.
func (k *keyChooser) insert() int {
	return int(k.inserted.Add(1) - 1)
}

// appendKey formats key index i as a size-byte zero-padded decimal, wrapping
// at 10^size, into dst.
func appendKey(dst []byte, i int, size int) []byte {
	start := len(dst)
	for range size {
		dst = append(dst, '0')
	}
	u := uint64(i)
	for j := len(dst) - 1; j >= start && u > 0; j-- {
		dst[j] = byte('0' + u%10)
		u /= 10
	}
	return dst
}

// Key returns key index i in the format of a workload with keys of size
// bytes, for tests and tools that check what a workload wrote.
func Key(i, size int) string { return string(appendKey(nil, i, size)) }
