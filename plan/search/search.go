// Package search finds the knee of a system under open-loop load: the
// highest offered rate it sustains within a latency objective. It knows
// nothing of what is probed: a Probe runs one rate (a measurement, or a
// simulation) and returns what happened; Find brackets the knee
// exponentially, bisects to a resolution, then probes both ends of the
// bracket again to give a band.
//
// The search is a deterministic function of the probes' outcomes, so a
// search can be resumed: given the outcomes of an interrupted search as
// Known, Find replays its way through them and probes only what is new.
package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrConfig reports a search that cannot run; the wrapping error names the
// field.
var ErrConfig = errors.New("search: invalid config")

// Outcome is what one probe at one offered rate found. Latencies are in
// milliseconds.
type Outcome struct {
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved"`
	Errors   int64   `json:"errors"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	P999     float64 `json:"p999_ms"`
	// Pass is filled in by Find from the objective.
	Pass bool `json:"pass"`
	// Why says which part of the objective failed.
	Why string `json:"why,omitempty"`
}

// Probe runs one offered rate.
type Probe func(ctx context.Context, rate float64) (Outcome, error)

// Objective is what a rate must meet to count as sustained.
type Objective struct {
	// P99 is the bound on the 99th percentile latency (ms); P50 and
	// P999, when above 0, bound those percentiles too.
	P99  float64 `json:"p99_ms"`
	P50  float64 `json:"p50_ms,omitempty"`
	P999 float64 `json:"p999_ms,omitempty"`
	// MinAchieved is the share of the offered rate that must be
	// completed (0 means 0.99).
	MinAchieved float64 `json:"min_achieved,omitempty"`
}

// Validate names the first bad field of o.
func (o Objective) Validate() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case !(o.P99 > 0) || bad(o.P99):
		return fmt.Errorf("%w: p99 objective %v ms must be above 0", ErrConfig, o.P99)
	case o.P50 < 0 || bad(o.P50):
		return fmt.Errorf("%w: p50 objective %v ms", ErrConfig, o.P50)
	case o.P999 < 0 || bad(o.P999):
		return fmt.Errorf("%w: p99.9 objective %v ms", ErrConfig, o.P999)
	case o.MinAchieved < 0 || o.MinAchieved > 1:
		return fmt.Errorf("%w: min achieved share %v not in 0..1", ErrConfig, o.MinAchieved)
	}
	return nil
}

// Judge says whether out meets o, and if not, why.
func (o Objective) Judge(out Outcome) (bool, string) {
	minA := o.MinAchieved
	if minA == 0 {
		minA = 0.99
	}
	switch {
	case out.Errors > 0:
		return false, fmt.Sprintf("%d errors", out.Errors)
	case out.Achieved < minA*out.Rate:
		return false, fmt.Sprintf("achieved %.0f/s of %.0f/s", out.Achieved, out.Rate)
	case out.P99 > o.P99:
		return false, fmt.Sprintf("p99 %.2f ms > %.2f", out.P99, o.P99)
	case o.P50 > 0 && out.P50 > o.P50:
		return false, fmt.Sprintf("p50 %.2f ms > %.2f", out.P50, o.P50)
	case o.P999 > 0 && out.P999 > o.P999:
		return false, fmt.Sprintf("p99.9 %.2f ms > %.2f", out.P999, o.P999)
	}
	return true, ""
}

// Config is how to search.
type Config struct {
	// Start is the first rate probed.
	Start float64 `json:"start" yaml:"start"`
	// Min and Max bound the rates probed: a system that fails at Min has
	// no knee above it, one that passes at Max has its knee beyond.
	Min float64 `json:"min" yaml:"min"`
	Max float64 `json:"max" yaml:"max"`
	// Resolution is the relative width the bisection stops at (0.05: the
	// passing and failing rates are within 5% of each other).
	Resolution float64 `json:"resolution" yaml:"resolution"`
	// Repeats is how many more times each end of the final bracket is
	// probed, for the band.
	Repeats int `json:"repeats" yaml:"repeats"`
}

// DefaultConfig starts at 1000/s, bisects to 5% and probes each end of the
// bracket twice more.
func DefaultConfig() Config {
	return Config{Start: 1000, Min: 1, Max: 10_000_000, Resolution: 0.05, Repeats: 2}
}

// Validate names the first bad field of c.
func (c Config) Validate() error {
	switch {
	case !(c.Min > 0) || !(c.Max >= c.Min) || math.IsInf(c.Max, 0):
		return fmt.Errorf("%w: rates %v..%v", ErrConfig, c.Min, c.Max)
	case !(c.Start >= c.Min && c.Start <= c.Max):
		return fmt.Errorf("%w: start %v not in %v..%v", ErrConfig, c.Start, c.Min, c.Max)
	case !(c.Resolution > 0 && c.Resolution < 1):
		return fmt.Errorf("%w: resolution %v not in (0, 1)", ErrConfig, c.Resolution)
	case c.Repeats < 0 || c.Repeats > 100:
		return fmt.Errorf("%w: repeats %d not in 0..100", ErrConfig, c.Repeats)
	}
	return nil
}

// Result is the knee found.
type Result struct {
	// Max is the highest rate a majority of whose probes passed (0 when
	// none did); P99AtMax is the median p99 of its probes.
	Max      float64 `json:"max"`
	P99AtMax float64 `json:"p99_ms_at_max"`
	// Low is the highest rate every probe of which passed, High the
	// lowest at which none did (Max when the search never failed): the
	// band the knee lies in, given how the probes vary.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// BelowMin: even the lowest rate failed. AboveMax: the highest
	// passed, so the knee is beyond what was searched.
	BelowMin bool `json:"below_min,omitempty"`
	AboveMax bool `json:"above_max,omitempty"`
	// Probes are every outcome, in the order they ran.
	Probes []Outcome `json:"probes"`
}

// Find searches for the knee of probe under obj. Known are outcomes of an
// earlier, interrupted search with the same config and objective: they
// are reused, in order, wherever the search asks for their rate again.
// Find stops at ctx's end or a probe's error and returns what it found so
// far together with the error.
func Find(ctx context.Context, cfg Config, obj Objective, probe Probe, known []Outcome) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if err := obj.Validate(); err != nil {
		return Result{}, err
	}
	f := finder{cfg: cfg, obj: obj, probe: probe, known: slices.Clone(known)}
	err := f.run(ctx)
	return f.result(), err
}

type finder struct {
	cfg    Config
	obj    Objective
	probe  Probe
	known  []Outcome
	probes []Outcome
}

// at probes rate, or reuses the first unused known outcome at that rate.
func (f *finder) at(ctx context.Context, rate float64) (bool, error) {
	for i, k := range f.known {
		if sameRate(k.Rate, rate) {
			f.known = slices.Delete(f.known, i, i+1)
			return f.record(k), nil
		}
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	out, err := f.probe(ctx, rate)
	if err != nil {
		return false, err
	}
	out.Rate = rate
	return f.record(out), nil
}

func (f *finder) record(out Outcome) bool {
	out.Pass, out.Why = f.obj.Judge(out)
	f.probes = append(f.probes, out)
	return out.Pass
}

func sameRate(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// roundRate keeps probed rates readable: three significant digits.
func roundRate(r float64) float64 {
	if r <= 0 {
		return r
	}
	p := math.Pow(10, math.Floor(math.Log10(r))-2)
	return math.Round(r/p) * p
}

func (f *finder) run(ctx context.Context) error {
	lo, hi := 0.0, 0.0
	r := f.cfg.Start
	pass, err := f.at(ctx, r)
	if err != nil {
		return err
	}
	if pass {
		lo = r
		for hi == 0 {
			if lo >= f.cfg.Max {
				return nil // the knee is above Max
			}
			r = math.Min(roundRate(2*lo), f.cfg.Max)
			if pass, err = f.at(ctx, r); err != nil {
				return err
			}
			if pass {
				lo = r
			} else {
				hi = r
			}
		}
	} else {
		hi = r
		for lo == 0 {
			if hi <= f.cfg.Min {
				return nil // fails even at Min
			}
			r = math.Max(roundRate(hi/2), f.cfg.Min)
			if pass, err = f.at(ctx, r); err != nil {
				return err
			}
			if pass {
				lo = r
			} else {
				hi = r
			}
		}
	}
	for (hi-lo)/lo > f.cfg.Resolution {
		mid := roundRate((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			mid = (lo + hi) / 2
		}
		if pass, err = f.at(ctx, mid); err != nil {
			return err
		}
		if pass {
			lo = mid
		} else {
			hi = mid
		}
	}
	for range f.cfg.Repeats {
		for _, rate := range []float64{lo, hi} {
			if _, err := f.at(ctx, rate); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *finder) result() Result {
	res := Result{Probes: f.probes}
	type tally struct {
		rate       float64
		pass, fail int
		p99        []float64
	}
	var ts []*tally
	for _, p := range f.probes {
		i := slices.IndexFunc(ts, func(t *tally) bool { return sameRate(t.rate, p.Rate) })
		if i < 0 {
			ts = append(ts, &tally{rate: p.Rate})
			i = len(ts) - 1
		}
		if p.Pass {
			ts[i].pass++
			ts[i].p99 = append(ts[i].p99, p.P99)
		} else {
			ts[i].fail++
		}
	}
	slices.SortFunc(ts, func(a, b *tally) int { return cmp.Compare(a.rate, b.rate) })
	for _, t := range ts {
		if t.pass > t.fail && t.rate > res.Max {
			res.Max = t.rate
			slices.Sort(t.p99)
			res.P99AtMax = t.p99[(len(t.p99)-1)/2]
		}
		if t.fail == 0 && t.rate > res.Low {
			res.Low = t.rate
		}
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].pass == 0 && ts[i].rate >= res.Max {
			res.High = ts[i].rate
		}
	}
	if res.High == 0 {
		res.High = res.Max
	}
	res.Low = math.Min(res.Low, res.Max)
	if len(ts) > 0 {
		res.BelowMin = res.Max == 0 && sameRate(ts[0].rate, f.cfg.Min)
		last := ts[len(ts)-1]
		res.AboveMax = sameRate(last.rate, f.cfg.Max) && last.pass > last.fail
	}
	return res
}
