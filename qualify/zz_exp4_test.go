package qualify

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

func TestExpPairs(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("EXP4_ROUNDS"))
	roundMs, _ := strconv.Atoi(os.Getenv("EXP4_MS"))
	trials, _ := strconv.Atoi(os.Getenv("EXP4_TRIALS"))
	if rounds == 0 {
		t.Skip("experiment")
	}
	for tr := 0; tr < trials; tr++ {
		dir, _ := os.MkdirTemp("/var/tmp/q", "exp")
		var g, f []float64
		gh, fh := newLatencyHistogram(), newLatencyHistogram()
		d := time.Duration(roundMs) * time.Millisecond
		goR := func() {
			run, err := walRound(t.Context(), vfs.OS{}, filepath.Join(dir, fioJobFile), walBlock, etcdJobBytes, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			g = append(g, ms(run.Hist.ValueAtQuantile(99)))
			gh.Merge(run.Hist)
		}
		fioR := func() {
			res, err := runFio(t.Context(), "fio", dir, d)
			if err != nil {
				t.Fatal(err)
			}
			f = append(f, res.P99Ms)
			fh.Merge(res.Hist)
		}
		for i := 0; i < rounds; i++ {
			if i%2 == 1 {
				fioR()
			}
			goR()
			if i%2 == 0 {
				fioR()
			}
		}
		os.RemoveAll(dir)
		var lr []float64
		for i := range g {
			lr = append(lr, math.Log(g[i]/f[i]))
		}
		pooled := 100 * math.Abs(ms(gh.ValueAtQuantile(99))-ms(fh.ValueAtQuantile(99))) / ms(fh.ValueAtQuantile(99))
		med := 100 * math.Abs(median(g)-median(f)) / median(f)
		pair := 100 * math.Abs(math.Exp(median(lr))-1)
		fmt.Printf("EXP pooled=%.1f%% medians=%.1f%% pairs=%.1f%% go=%v fio=%v\n", pooled, med, pair, fmtS(g), fmtS(f))
	}
}

func fmtS(xs []float64) string {
	s := ""
	for _, x := range xs {
		s += fmt.Sprintf("%.2f ", x)
	}
	return s
}
