package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/results"
)

// BenchFunc measures one point and returns it with the header of a run to
// hold it; harness.Bench with a backend registry is the real one, tests
// pass their own. A point returned with an error is not kept.
type BenchFunc func(ctx context.Context, cfg harness.BenchConfig) (*results.Point, results.Header, error)

// Runner measures a plan into a run directory.
type Runner struct {
	Bench BenchFunc
	// Progress, when not nil, gets a line per point that is rewritten
	// every second with the point in hand and an ETA: meant for a
	// terminal, so callers leave it nil in pipes.
	Progress io.Writer
	// Quick is recorded in run.json: the points were shrunk for a smoke
	// run and are not measurements to compare with full ones.
	Quick bool
}

// Recorded is what a sweep writes into run.json's "config": the effective
// config (as data and as YAML) and what the user must know about the run.
type Recorded struct {
	Sweep Config `json:"sweep"`
	// SweepYAML is Sweep in the form a sweep file spells it.
	SweepYAML string `json:"sweep_yaml"`
	Quick     bool   `json:"quick"`
	// Notes are the plan's notes (targets skipped and why).
	Notes []string `json:"notes,omitempty"`
	// Failed lists points that could not be measured, with the error.
	Failed        []string `json:"failed,omitempty"`
	PlannedPoints int      `json:"planned_points"`
}

// Outcome is what Run did.
type Outcome struct {
	// Run is the run as saved; nil when no point was ever measured into
	// the directory.
	Run      *results.Run
	Measured int      // points measured by this call
	Resumed  int      // planned points the directory already held
	Failed   []string // points of this call that could not be measured
}

// Run measures every point of plan that dir does not already hold,
// rewriting dir's run.json after each. It stops at ctx's end, keeping what
// was measured, and returns ErrInterrupted; points that failed make it
// return ErrPointsFailed after all the others ran.
func (r *Runner) Run(ctx context.Context, cfg Config, plan Plan, dir string) (Outcome, error) {
	var out Outcome
	run, err := openRun(dir, cfg.Name)
	if err != nil {
		return out, err
	}
	out.Run = run
	rec := record(cfg, plan, r.Quick, run)
	todo, resumed := pending(plan, run)
	out.Resumed = resumed
	prog := newProgress(r.Progress, len(plan.Points))
	if out.Resumed > 0 {
		prog.printf("resuming %s: %d of %d points already measured\n", dir, out.Resumed, len(plan.Points))
	}
	started := time.Now()
	for n, i := range todo {
		if ctx.Err() != nil {
			break
		}
		p := plan.Points[i]
		stop := prog.start(i+1, p, estimate(p.Bench), len(todo)-n-1, started, n)
		pt, hdr, err := r.measure(ctx, p)
		if ctx.Err() != nil {
			// A point cut short would pass for a measurement: drop it and
			// let a resumed run measure it again.
			stop("interrupted")
			break
		}
		if err != nil {
			msg := fmt.Sprintf("%s: %v", p.Label, err)
			out.Failed = append(out.Failed, msg)
			rec.Failed = append(rec.Failed, msg)
			stop("FAILED: " + err.Error())
			continue
		}
		stop(fmt.Sprintf("%.0f ops/s, p99 %.2f ms", pt.Throughput, pt.LatencyMs.P99))
		if out.Run == nil {
			// The sweep's run, on the host and revision of its first point.
			out.Run = &results.Run{Header: results.Header{Schema: results.SchemaV1, Name: cfg.Name,
				Started: started.UTC(), Git: hdr.Git, Host: hdr.Host}}
		}
		out.Run.Points = append(out.Run.Points, *pt)
		out.Measured++
		if err := save(dir, out.Run, rec); err != nil {
			return out, err
		}
	}
	if out.Run != nil && out.Measured == 0 {
		// Nothing new, but the config (notes, failures) still describes
		// this invocation.
		if err := save(dir, out.Run, rec); err != nil {
			return out, err
		}
	}
	return out, outcomeErr(ctx, out, len(plan.Points))
}

// measure runs one planned point through the Runner's BenchFunc.
func (r *Runner) measure(ctx context.Context, p PlannedPoint) (*results.Point, results.Header, error) {
	pt, hdr, err := r.Bench(ctx, p.Bench)
	if err == nil && pt == nil {
		err = errors.New("sweep: bench returned no point")
	}
	return pt, hdr, err
}

// record is what run.json's config says about this invocation: cfg and
// plan, with the notes of the earlier sweep that made run, if any.
func record(cfg Config, plan Plan, quick bool, run *results.Run) Recorded {
	rec := Recorded{Sweep: cfg, SweepYAML: cfg.YAML(), Quick: quick, Notes: plan.Notes, PlannedPoints: len(plan.Points)}
	if run == nil {
		return rec
	}
	var old Recorded
	// A run.json written by another command may hold any config; only the
	// notes of an earlier sweep are worth carrying over.
	if json.Unmarshal(run.Config, &old) == nil {
		for _, n := range old.Notes {
			if !slices.Contains(rec.Notes, n) {
				rec.Notes = append(rec.Notes, n)
			}
		}
	}
	return rec
}

// pending lists (by index) the points of plan that run does not hold yet,
// and counts those it does.
func pending(plan Plan, run *results.Run) (todo []int, resumed int) {
	done := map[results.PointKey]bool{}
	if run != nil {
		for i := range run.Points {
			done[run.Points[i].Key()] = true
		}
	}
	for i, p := range plan.Points {
		if done[p.Key] {
			resumed++
		} else {
			todo = append(todo, i)
		}
	}
	return todo, resumed
}

// outcomeErr is how a run that ended with out ends: interrupted before all
// planned points were dealt with, with points that failed, or not at all.
func outcomeErr(ctx context.Context, out Outcome, planned int) error {
	switch {
	case ctx.Err() != nil && out.Measured+out.Resumed+len(out.Failed) < planned:
		return fmt.Errorf("%w after %d of %d points: %w", ErrInterrupted,
			out.Measured+out.Resumed, planned, context.Cause(ctx))
	case len(out.Failed) > 0:
		return fmt.Errorf("%w: %d of %d (first: %s)", ErrPointsFailed, len(out.Failed), planned, out.Failed[0])
	}
	return nil
}

// openRun reads the run in dir for resuming; nil when dir holds none.
func openRun(dir, name string) (*results.Run, error) {
	run, err := results.Resume(dir, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return run, nil
}

// save records rec as the run's config and rewrites the run directory
// (results.Rewrite: a crash leaves the old run or the new one).
func save(dir string, run *results.Run, rec Recorded) error {
	cfg, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: encode config: %w", ErrRunDir, err)
	}
	run.Config = cfg
	if err := results.Rewrite(dir, run); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return nil
}

// estimate is how long a point should take before any has been measured,
// 0 when it cannot tell (a point bounded by its operation count).
func estimate(b harness.BenchConfig) time.Duration {
	if b.Run.Duration == 0 {
		return 0
	}
	// A second or two goes to starting the cluster and electing a leader.
	return b.Run.Warmup + b.Run.Duration + 2*time.Second
}
