package qualify

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Whether Go and fio agree. Each tool's fdatasync p99 is pooled over its
// interleaved rounds; on a shared virtual disk the tail of one round can
// be ten times that of the next, so the two pooled p99s may differ by
// more than 25% only because the bursts fell into one tool's rounds. The
// bootstrap below resamples the rounds to put an interval around the
// ratio of the two p99s: a disagreement the interval cannot tell from
// agreement is noise, not one tool measuring something else.

// logCounts is a latency histogram in buckets 1% wide from 1 µs to a
// minute, dense; sparseCounts holds one round's non-empty buckets, cheap
// to add up, which a bootstrap does thousands of times.
type logCounts []int64

type sparseCounts struct {
	idx []int
	n   []int64
}

// sparse lists c's non-empty buckets.
func (c logCounts) sparse() sparseCounts {
	var s sparseCounts
	for i, n := range c {
		if n > 0 {
			s.idx, s.n = append(s.idx, i), append(s.n, n)
		}
	}
	return s
}

const (
	lcMin    = 1e3  // ns
	lcMax    = 60e9 // ns
	lcGrowth = 1.01
)

func lcBuckets() int { return int(math.Ceil(math.Log(lcMax/lcMin)/math.Log(lcGrowth))) + 1 }

func lcIndex(ns float64) int {
	if ns <= lcMin {
		return 0
	}
	return min(int(math.Log(ns/lcMin)/math.Log(lcGrowth)), lcBuckets()-1)
}

// toLogCounts rebins an HdrHistogram of nanoseconds.
func toLogCounts(h *hdrhistogram.Histogram) logCounts {
	c := make(logCounts, lcBuckets())
	for _, b := range h.Distribution() {
		if b.Count > 0 {
			c[lcIndex(float64(b.From+b.To)/2)] += b.Count
		}
	}
	return c
}

// quantile is the upper edge, in ns, of the bucket holding quantile q
// (0..1) of the counts; 0 when empty.
func (c logCounts) quantile(q float64) float64 {
	var total int64
	for _, n := range c {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i, n := range c {
		seen += n
		if seen >= want {
			return lcMin * math.Pow(lcGrowth, float64(i+1))
		}
	}
	return lcMin * math.Pow(lcGrowth, float64(len(c)))
}

// pooledP99 adds up the chosen rounds into sum (reset first) and returns
// their p99 in ns.
func pooledP99(rounds []sparseCounts, pick []int, sum logCounts) float64 {
	clear(sum)
	for _, i := range pick {
		r := rounds[i]
		for k, j := range r.idx {
			sum[j] += r.n[k]
		}
	}
	return sum.quantile(0.99)
}

// ratioInterval is the 5th to 95th percentile of the ratio of Go's pooled
// p99 to fio's when each tool's rounds are resampled with replacement
// (n times, from a fixed seed, so a result can be recomputed).
func ratioInterval(goRounds, fioRounds []logCounts, n int) (lo, hi float64) {
	if len(goRounds) == 0 || len(fioRounds) == 0 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(99, 25))
	sparseG, sparseF := make([]sparseCounts, len(goRounds)), make([]sparseCounts, len(fioRounds))
	for i, r := range goRounds {
		sparseG[i] = r.sparse()
	}
	for i, r := range fioRounds {
		sparseF[i] = r.sparse()
	}
	sumG, sumF := make(logCounts, lcBuckets()), make(logCounts, lcBuckets())
	pickG, pickF := make([]int, len(goRounds)), make([]int, len(fioRounds))
	ratios := make([]float64, 0, n)
	for range n {
		for i := range pickG {
			pickG[i] = rng.IntN(len(goRounds))
		}
		for i := range pickF {
			pickF[i] = rng.IntN(len(fioRounds))
		}
		f := pooledP99(sparseF, pickF, sumF)
		if f <= 0 {
			continue
		}
		ratios = append(ratios, pooledP99(sparseG, pickG, sumG)/f)
	}
	if len(ratios) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(ratios)
	at := func(q float64) float64 { return ratios[min(len(ratios)-1, int(q*float64(len(ratios))))] }
	return at(0.05), at(0.95)
}

// agreementCheck judges how far Go's pooled fdatasync p99 is from fio's.
// Past the threshold it warns only when the resampling interval of their
// ratio excludes agreement within the threshold too; otherwise it passes
// and says the difference is within the rounds' noise.
func agreementCheck(p Profile, goP99, fioP99 float64, goRounds, fioRounds []logCounts) Check {
	c := judge(p, "disk.go_fio_disagreement", 100*math.Abs(goP99-fioP99)/fioP99)
	lo, hi := ratioInterval(goRounds, fioRounds, 2000)
	c.Details = map[string]float64{"go_p99_ms": goP99, "fio_p99_ms": fioP99,
		"go_rounds": float64(len(goRounds)), "fio_rounds": float64(len(fioRounds))}
	if math.IsNaN(lo) {
		return c
	}
	c.Details["ratio_p5"], c.Details["ratio_p95"] = lo, hi
	if c.Verdict == Pass {
		return c
	}
	limit := c.Threshold / 100
	if c.Severity == Fail && c.WarnThreshold != nil {
		limit = *c.WarnThreshold / 100
	}
	if lo <= 1+limit && hi >= 1-limit {
		c.Verdict = Pass
		c.Reason = "within the rounds' noise: resampling the rounds puts Go/fio between " + formatNumber(lo) + " and " +
			formatNumber(hi) + " (90%), which includes agreement; the disk's tail drifted between rounds"
	}
	return c
}
