package plan

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/plan/search"
	"github.com/adrbench/adrbench/results"
)

// kneeProber is a fake cluster with a known knee: below it every due write
// completes while due and p99 grows as 1/(1-rho); above it only the knee's
// rate completes. It stops the context after stopAfter probes (0: never).
type kneeProber struct {
	knee      float64
	probes    int
	stopAfter int
	cancel    context.CancelFunc
}

func (k *kneeProber) Probe(ctx context.Context, spec ProbeSpec) (*results.Run, error) {
	k.probes++
	if k.stopAfter > 0 && k.probes > k.stopAfter {
		k.cancel()
		return nil, ctx.Err()
	}
	rate := spec.Rate
	done := math.Min(rate, k.knee)
	secs := int(spec.Duration / time.Second)
	p99 := 5 / math.Max(1-rate/k.knee, 0.01)
	if rate > k.knee {
		p99 = 10000
	}
	pt := results.Point{Target: spec.Setup.Target, Backend: spec.Setup.Backend, Nodes: spec.Setup.Nodes,
		NetDelayMs: ms(spec.Setup.NetDelay), DiskProfile: spec.Setup.DiskProfile, Emulated: []string{}, Workload: "put",
		Mode: results.ModeOpen, Clients: spec.Setup.Clients, Conns: spec.Setup.Conns, KeySize: spec.Setup.KeySize,
		ValSize: spec.Setup.ValSize, RateOpsS: rate, DurationS: float64(secs) + 0.2,
		LatencyMs: results.Latency{Mean: 2, P50: 2, P90: 2, P99: max(p99, 2), P999: 2 * p99, Max: 2 * p99, Min: 1}}
	for s := 1; s <= secs; s++ {
		pt.Series = append(pt.Series, results.Second{T: float64(s), Ops: int64(done), Rate: rate})
		pt.Ops += int64(done)
	}
	// The drain after the last due write, outside the window.
	pt.Series = append(pt.Series, results.Second{T: float64(secs) + 0.2, Ops: int64(rate * 0.2)})
	pt.Throughput = float64(pt.Ops) / pt.DurationS
	return &results.Run{Header: results.Header{Schema: results.SchemaV1, Name: spec.Name, Started: time.Now().UTC()}, Points: []results.Point{pt}}, nil
}

func measureConfig() MeasureConfig {
	c := DefaultMeasureConfig()
	c.Name = "knee-test"
	c.Probe.Duration, c.Probe.Warmup, c.Probe.MinOps = 2*time.Second, 0, 0
	return c
}

func TestMeasureFindsKnownKnee(t *testing.T) {
	tests := []struct {
		name string
		knee float64
		obj  search.Objective
		want float64 // where the objective bites
	}{
		{"throughput knee", 3300, search.Objective{P99: 1e6}, 3300},
		// p99 = 5/(1-rho) <= 25 ms until rho = 0.8.
		{"latency objective", 10000, search.Objective{P99: 25}, 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := measureConfig()
			cfg.Objective = tt.obj
			if err := cfg.Validate([]string{"batched"}); err != nil {
				t.Fatal(err)
			}
			m := &Measurer{Prober: &kneeProber{knee: tt.knee}}
			pf, err := m.Measure(context.Background(), cfg, tt.obj, dir)
			if err != nil {
				t.Fatal(err)
			}
			p := pf.Points[0]
			if !p.Found || p.MaxWritesS > tt.want/0.99 || p.MaxWritesS < tt.want*(1-cfg.Search.Resolution) {
				t.Fatalf("max %v (found %v), want within %v of %v", p.MaxWritesS, p.Found, cfg.Search.Resolution, tt.want)
			}
			if p.Low > p.MaxWritesS || p.High < p.MaxWritesS {
				t.Fatalf("band %v..%v does not hold %v", p.Low, p.High, p.MaxWritesS)
			}
			got, err := ReadPlan(dir)
			if err != nil || got == nil || got.Kind != KindMeasured || got.Schema != PlanSchema || len(got.Points) != 1 {
				t.Fatalf("plan.json: %+v, %v", got, err)
			}
			run, err := results.Read(dir)
			if err != nil || len(run.Points) != p.Probes {
				t.Fatalf("run.json holds %d probes, plan says %d (%v)", len(run.Points), p.Probes, err)
			}
		})
	}
}

// TestMeasureResumes interrupts a measurement and runs it again on the
// same directory: the second run measures only the probes the first did
// not, and finds the same knee.
func TestMeasureResumes(t *testing.T) {
	cfg := measureConfig()
	obj := search.Objective{P99: 1e6}
	full, err := (&Measurer{Prober: &kneeProber{knee: 4100}}).Measure(context.Background(), cfg, obj, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := &kneeProber{knee: 4100, stopAfter: 3, cancel: cancel}
	if _, err := (&Measurer{Prober: first}).Measure(ctx, cfg, obj, dir); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted measure: %v, want ErrInterrupted", err)
	}
	run, err := results.Read(dir)
	if err != nil || len(run.Points) != 3 {
		t.Fatalf("after the interruption run.json holds %v points (%v), want 3", len(run.Points), err)
	}
	second := &kneeProber{knee: 4100}
	pf, err := (&Measurer{Prober: second}).Measure(context.Background(), cfg, obj, dir)
	if err != nil {
		t.Fatal(err)
	}
	if pf.Points[0].MaxWritesS != full.Points[0].MaxWritesS || second.probes != full.Points[0].Probes-3 {
		t.Fatalf("resumed: max %v after %d new probes; uninterrupted: max %v after %d",
			pf.Points[0].MaxWritesS, second.probes, full.Points[0].MaxWritesS, full.Points[0].Probes)
	}
}

func TestMeasureConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown backend", "backends: [floppy]\n", "unknown backend"},
		{"unknown profile", "disk_profiles: [floppy]\n", "unknown disk profile"},
		{"unknown field", "nodez: [3]\n", "nodez"},
		{"bad target", "targets: [cloud]\n", "cloud"},
		{"conns above clients", "clients: 10\nconns: 20\n", "conns"},
		{"objective zero", "objective: {p99_ms: -1}\n", "p99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadMeasureConfig(path)
			if err == nil {
				if cfg.Objective.P99 == 0 {
					cfg.Objective.P99 = 10
				}
				err = cfg.Validate([]string{"batched", "adr"})
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
}
