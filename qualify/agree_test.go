package qualify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// round is one round's histogram: n syncs around base ns, and burst
// syncs of burstNs (a neighbour's I/O landing in this round).
func round(rng *rand.Rand, n int, baseNs float64, burst int, burstNs float64) *hdrhistogram.Histogram {
	h := newLatencyHistogram()
	for range n {
		_ = h.RecordValue(int64(baseNs * (0.7 + 0.6*rng.Float64())))
	}
	for range burst {
		_ = h.RecordValue(int64(burstNs * (0.8 + 0.4*rng.Float64())))
	}
	return h
}

func TestLogCountsQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	h := round(rng, 5000, 300_000, 80, 4_000_000)
	want := float64(h.ValueAtQuantile(99))
	got := toLogCounts(h).quantile(0.99)
	if math.Abs(got-want)/want > 0.02 {
		t.Fatalf("p99 %v ns from 1%% buckets, HdrHistogram says %v", got, want)
	}
	if (logCounts{}).quantile(0.99) != 0 {
		t.Fatal("empty counts have a p99")
	}
}

func TestAgreementCheck(t *testing.T) {
	p := EtcdProfile()
	// mk builds r rounds per tool: Go's syncs take goScale times fio's;
	// bursty rounds put 3% of a round's syncs at 4 ms.
	mk := func(rounds int, goScale float64, bursty func(i int, tool string) bool) ([]logCounts, []logCounts, float64, float64) {
		rng := rand.New(rand.NewPCG(7, 7))
		var gr, fr []logCounts
		gAll, fAll := newLatencyHistogram(), newLatencyHistogram()
		for i := range rounds {
			for _, tool := range []string{"go", "fio"} {
				burst := 0
				if bursty(i, tool) {
					burst = 35
				}
				scale := 1.0
				if tool == "go" {
					scale = goScale
				}
				h := round(rng, 1000, 300_000*scale, burst, 4_000_000*scale)
				if tool == "go" {
					gr, _ = append(gr, toLogCounts(h)), gAll.Merge(h)
				} else {
					fr, _ = append(fr, toLogCounts(h)), fAll.Merge(h)
				}
			}
		}
		return gr, fr, ms(gAll.ValueAtQuantile(99)), ms(fAll.ValueAtQuantile(99))
	}
	never := func(int, string) bool { return false }
	tests := []struct {
		name   string
		scale  float64
		bursty func(int, string) bool
		want   Verdict
		reason string
	}{
		{"the same disk, the same tools", 1, never, Pass, ""},
		{"Go 10% slower", 1.1, never, Pass, ""},
		{"Go twice as slow in every round", 2, never, Warn, "≥ 25 %"},
		{"fio twice as slow in every round", 0.5, never, Warn, "≥ 25 %"},
		{"bursts in a few of fio's rounds only", 1, func(i int, tool string) bool { return tool == "fio" && i%3 == 0 }, Pass, "within the rounds' noise"},
		{"bursts in every round of both", 1, func(int, string) bool { return true }, Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gr, fr, g, f := mk(12, tt.scale, tt.bursty)
			c := agreementCheck(p, g, f, gr, fr)
			if c.Verdict != tt.want {
				t.Fatalf("Go %v ms, fio %v ms: %s (%s), interval %v..%v", g, f, c.Verdict, c.Reason, c.Details["ratio_p5"], c.Details["ratio_p95"])
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Fatalf("reason %q lacks %q", c.Reason, tt.reason)
			}
			if lo, hi := c.Details["ratio_p5"], c.Details["ratio_p95"]; !(lo <= hi) {
				t.Fatalf("interval %v..%v", lo, hi)
			}
		})
	}
	// Without fio's bins there is no interval, and the threshold alone
	// decides.
	c := agreementCheck(p, 2, 1, nil, nil)
	if c.Verdict != Warn || c.Details["ratio_p5"] != 0 {
		t.Fatalf("%+v", c)
	}
	if _, ok := c.Details["ratio_p5"]; ok {
		t.Fatal("an interval without rounds")
	}
}
