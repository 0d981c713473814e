package plan

import (
	"context"
	"testing"

	"github.com/adrbench/adrbench/plan/search"
)

// gridOf200 is a 200-configuration grid: 4 backends, 5 cluster sizes, 5
// delays (LAN to WAN), 2 disks.
func gridOf200() []Setup {
	return Grid(DefaultSetup(), []string{"fsync", "batched", "adr", "memory"}, []int{1, 3, 5, 7, 9},
		[]float64{0, 1, 5, 25, 75}, []string{"native", "ssd-2015"})
}

// BenchmarkPredictGrid predicts a 200-configuration grid at a 100 ms
// objective on one core: the whole grid is one op (it must stay under
// 10 s).
func BenchmarkPredictGrid(b *testing.B) {
	p := &Predictor{Cal: testCalibration()}
	setups := gridOf200()
	if len(setups) != 200 {
		b.Fatalf("grid has %d configurations", len(setups))
	}
	for b.Loop() {
		if _, err := p.PredictAll(context.Background(), setups, search.Objective{P99: 100}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(setups)), "configs/op")
}
