package search

import (
	"context"
	"errors"
	"math"
	"testing"
)

// kneeTarget is a fake system with a known knee: below it, p99 grows as
// 1/(1-rho) from base and everything is completed; above it, only the
// knee's rate is completed and p99 explodes.
func kneeTarget(knee, baseMs float64) Probe {
	return func(_ context.Context, rate float64) (Outcome, error) {
		if rate > knee {
			return Outcome{Achieved: knee, P50: 1000, P99: 5000, P999: 6000}, nil
		}
		rho := rate / knee
		return Outcome{Achieved: rate, P50: baseMs, P99: baseMs / math.Max(1-rho, 1e-3), P999: 2 * baseMs / math.Max(1-rho, 1e-3)}, nil
	}
}

func TestFindsKnownKneeWithinResolution(t *testing.T) {
	tests := []struct {
		name  string
		knee  float64
		start float64
		obj   Objective
		// want is the rate the objective allows: the knee, or where the
		// p99 bound bites first.
		want float64
	}{
		{"knee above start", 7300, 1000, Objective{P99: 1e6}, 7300},
		{"knee below start", 420, 1000, Objective{P99: 1e6}, 420},
		{"knee at the start", 1000, 1000, Objective{P99: 1e6}, 1000},
		// p99 = 10/(1-rho) <= 50 ms until rho = 0.8.
		{"latency bound first", 10000, 1000, Objective{P99: 50}, 8000},
		// p99.9 = 20/(1-rho) <= 40 ms until rho = 0.5.
		{"p99.9 objective", 10000, 3000, Objective{P99: 1e6, P999: 40}, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Start = tt.start
			res, err := Find(context.Background(), cfg, tt.obj, kneeTarget(tt.knee, 10), nil)
			if err != nil {
				t.Fatal(err)
			}
			// A rate up to 1% above the knee still passes: 99% of it is
			// completed, which is what the objective asks.
			if res.Max > tt.want/0.99 || res.Max < tt.want*(1-cfg.Resolution) {
				t.Fatalf("max %v, want within %v%% below %v", res.Max, cfg.Resolution*100, tt.want)
			}
			if !(res.Low <= res.Max && res.Max <= res.High) || res.High > tt.want/0.99*(1+cfg.Resolution) {
				t.Fatalf("band %v..%v around %v, knee %v", res.Low, res.High, res.Max, tt.want)
			}
			// Both ends of the bracket were repeated.
			var atMax int
			for _, p := range res.Probes {
				if p.Rate == res.Max {
					atMax++
				}
			}
			if atMax < 1+cfg.Repeats {
				t.Fatalf("max %v probed %d times, want %d", res.Max, atMax, 1+cfg.Repeats)
			}
		})
	}
}

func TestNothingPassesOrEverythingPasses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Min, cfg.Max = 10, 100000
	res, err := Find(context.Background(), cfg, Objective{P99: 1}, kneeTarget(1e9, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Max != 0 || !res.BelowMin {
		t.Fatalf("p50 10 ms under a 1 ms objective: max %v, below min %v", res.Max, res.BelowMin)
	}
	res, err = Find(context.Background(), cfg, Objective{P99: 1e6}, kneeTarget(1e9, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Max != cfg.Max || !res.AboveMax {
		t.Fatalf("knee far above max: max %v, above max %v", res.Max, res.AboveMax)
	}
}

// TestResumeReplaysKnownProbes interrupts a search after a few probes and
// resumes it with what it had: the resumed search probes only new rates
// and ends where an uninterrupted one does.
func TestResumeReplaysKnownProbes(t *testing.T) {
	cfg := DefaultConfig()
	obj := Objective{P99: 1e6}
	full, err := Find(context.Background(), cfg, obj, kneeTarget(5555, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	errStop := errors.New("stop")
	calls := 0
	stopping := func(ctx context.Context, rate float64) (Outcome, error) {
		if calls == 4 {
			return Outcome{}, errStop
		}
		calls++
		return kneeTarget(5555, 10)(ctx, rate)
	}
	part, err := Find(context.Background(), cfg, obj, stopping, nil)
	if !errors.Is(err, errStop) || len(part.Probes) != 4 {
		t.Fatalf("interrupted search: %d probes, err %v", len(part.Probes), err)
	}
	fresh := 0
	counting := func(ctx context.Context, rate float64) (Outcome, error) {
		fresh++
		return kneeTarget(5555, 10)(ctx, rate)
	}
	resumed, err := Find(context.Background(), cfg, obj, counting, part.Probes)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Max != full.Max || fresh != len(full.Probes)-4 {
		t.Fatalf("resumed max %v after %d new probes; uninterrupted max %v after %d", resumed.Max, fresh, full.Max, len(full.Probes))
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		obj  Objective
	}{
		{"objective zero", func(*Config) {}, Objective{P99: 0}},
		{"objective negative", func(*Config) {}, Objective{P99: -5}},
		{"start outside", func(c *Config) { c.Start = c.Max * 2 }, Objective{P99: 10}},
		{"resolution one", func(c *Config) { c.Resolution = 1 }, Objective{P99: 10}},
		{"negative repeats", func(c *Config) { c.Repeats = -1 }, Objective{P99: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.cfg(&cfg)
			if _, err := Find(context.Background(), cfg, tt.obj, kneeTarget(100, 1), nil); !errors.Is(err, ErrConfig) {
				t.Fatalf("Find = %v, want ErrConfig", err)
			}
		})
	}
}
