package plan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/adrbench/adrbench/plan/search"
	"github.com/adrbench/adrbench/results"
)

// ValidationSchema names the format of validation.json.
const ValidationSchema = "adrbench.validation/v1"

// ValidationFile is what `plan validate` writes.
const ValidationFile = "validation.json"

// Validation is the model against measured run directories.
type Validation struct {
	Schema      string            `json:"schema"`
	Created     time.Time         `json:"created"`
	Calibration string            `json:"calibration"`
	Runs        []string          `json:"runs"`
	Points      []ValidationPoint `json:"points"`
	// AtCapacity summarises the points measured at capacity (closed loop
	// with 100 clients or more, overloaded open-loop points, measured
	// knees) on configurations not used in calibration; All every point
	// predicted.
	AtCapacity Summary `json:"at_capacity"`
	All        Summary `json:"all"`
	// CPUPerWrite summarises the error of the CPU per write, over the
	// inproc points (where the process's CPU is every member's and the
	// generator's): unlike throughput it does not depend on how much of
	// the machine other work left the run.
	CPUPerWrite Summary `json:"cpu_per_write"`
}

// Summary is the error of a set of predictions of throughput: relative,
// (predicted - measured) / measured.
type Summary struct {
	N        int     `json:"n"`
	Median   float64 `json:"median_abs_error"`
	Worst    float64 `json:"worst_abs_error"`
	Within15 int     `json:"within_15pct"`
	Within25 int     `json:"within_25pct"`
	Within30 int     `json:"within_30pct"`
	// Bias is the median signed error: above 0 the model predicts more
	// than was measured.
	Bias float64 `json:"median_error"`
}

// ValidationPoint is one measured point against the model.
type ValidationPoint struct {
	Run   string `json:"run"`
	Index int    `json:"index"`
	// Kind is "point" (a measured point's throughput) or "knee" (a
	// plan measure's capacity at its objective).
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
	Setup Setup   `json:"setup"`
	Mode  string  `json:"mode"`
	Rate  float64 `json:"rate,omitempty"`
	// Throughput measured and predicted, writes/s, and the relative
	// error; p99 measured and predicted, ms.
	Measured     float64 `json:"measured"`
	Predicted    float64 `json:"predicted"`
	Error        float64 `json:"error"`
	MeasuredP99  float64 `json:"measured_p99_ms"`
	PredictedP99 float64 `json:"predicted_p99_ms"`
	// CPU per write (us), measured (inproc points: the process's CPU,
	// members and generator) and predicted; 0 when unknown.
	MeasuredCPU  float64 `json:"measured_cpu_us,omitempty"`
	PredictedCPU float64 `json:"predicted_cpu_us,omitempty"`
	AtCapacity   bool    `json:"at_capacity"`
	// InCalibration: a calibration run had the same configuration.
	InCalibration bool     `json:"in_calibration,omitempty"`
	Extrapolated  []string `json:"extrapolated,omitempty"`
	Bottleneck    string   `json:"bottleneck,omitempty"`
	// Skipped says why a point was not predicted.
	Skipped string `json:"skipped,omitempty"`
}

// atCapacityClients is the client count from which a closed-loop point is
// taken to be limited by the cluster, not by its clients.
const atCapacityClients = 100

// Validate predicts every point of the run directories (and every knee of
// the plan.json they hold) and compares.
func (p *Predictor) Validate(ctx context.Context, calDir string, dirs []string, backends []string, progress func(string)) (*Validation, error) {
	v := &Validation{Schema: ValidationSchema, Created: time.Now().UTC(), Calibration: calDir, Runs: dirs}
	for _, dir := range dirs {
		run, err := results.Read(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrRunDir, dir, err)
		}
		for i := range run.Points {
			if err := ctx.Err(); err != nil {
				return v, err
			}
			vp := p.validatePoint(dir, i, &run.Points[i], backends)
			if progress != nil {
				progress(vp.line())
			}
			v.Points = append(v.Points, vp)
		}
		pf, err := ReadPlan(dir)
		if err != nil {
			return nil, err
		}
		if pf != nil && pf.Kind == KindMeasured {
			obj := search.Objective{P99: pf.SLO.P99Ms, P50: pf.SLO.P50Ms, P999: pf.SLO.P999Ms}
			for i, pt := range pf.Points {
				if err := ctx.Err(); err != nil {
					return v, err
				}
				vp := p.validateKnee(ctx, dir, i, pt, obj, backends)
				if progress != nil {
					progress(vp.line())
				}
				v.Points = append(v.Points, vp)
			}
		}
	}
	v.summarise()
	return v, nil
}

func (p *Predictor) validatePoint(dir string, i int, pt *results.Point, backends []string) ValidationPoint {
	vp := ValidationPoint{Run: dir, Index: i, Kind: "point", Mode: pt.Mode, Rate: pt.RateOpsS,
		Measured: pt.Throughput, MeasuredP99: pt.LatencyMs.P99}
	s, err := SetupOf(pt)
	vp.Setup, vp.Label = s, pointLabel(pt)
	if err == nil {
		err = s.Validate(backends)
	}
	if err == nil && pt.Errors > 0 {
		err = fmt.Errorf("%w: %d errors in the measurement", ErrNotModelled, pt.Errors)
	}
	if err != nil {
		vp.Skipped = err.Error()
		return vp
	}
	rate := 0.0
	if pt.Mode == results.ModeOpen {
		rate = pt.RateOpsS
	}
	r, b, err := p.Simulate(s, rate, uint64(i)+1)
	if err != nil {
		vp.Skipped = err.Error()
		return vp
	}
	vp.Predicted, vp.PredictedP99 = r.HarnessThroughput, r.Latency.P99*1e3
	if pt.CPUShared && pt.GeneratorCPUS > 0 && pt.Ops > 0 {
		vp.MeasuredCPU = pt.GeneratorCPUS / float64(pt.Ops+pt.Errors) * 1e6
		// The model's CPU is in the machine's full cores; a calibration
		// that ran on part of them scales its costs up, which a CPU-time
		// figure must not include.
		vp.PredictedCPU = r.CPUPerWrite * 1e6 / p.Cal.cpuScale()
	}
	vp.Error = (vp.Predicted - vp.Measured) / vp.Measured
	vp.Extrapolated = b.Extrapolated
	vp.Bottleneck = classify(s, r)
	vp.AtCapacity = pt.Mode == results.ModeClosed && pt.Clients >= atCapacityClients ||
		pt.Mode == results.ModeOpen && pt.Throughput < 0.97*pt.RateOpsS
	vp.InCalibration = p.inCalibration(s)
	return vp
}

func (p *Predictor) validateKnee(ctx context.Context, dir string, i int, pt PlanPoint, obj search.Objective, backends []string) ValidationPoint {
	s := pt.Setup()
	vp := ValidationPoint{Run: dir, Index: i, Kind: "knee", Mode: results.ModeOpen, Setup: s,
		Label: "knee " + s.Label(), Measured: pt.MaxWritesS, MeasuredP99: pt.P99MsAtMax, AtCapacity: true}
	err := s.Validate(backends)
	if err == nil && (!pt.Found || pt.MaxWritesS <= 0) {
		err = errors.New("the measured search did not find a knee")
	}
	if err == nil {
		err = obj.Validate()
	}
	if err != nil {
		vp.Skipped = err.Error()
		return vp
	}
	pr, err := p.Capacity(ctx, s, obj)
	if err != nil {
		vp.Skipped = err.Error()
		return vp
	}
	vp.Predicted, vp.PredictedP99 = pr.Max, pr.P99AtMax
	vp.Error = (vp.Predicted - vp.Measured) / vp.Measured
	vp.Extrapolated, vp.Bottleneck = pr.Extrapolated, pr.Bottleneck
	vp.InCalibration = p.inCalibration(s)
	return vp
}

// inCalibration says whether a calibration run had s's configuration.
func (p *Predictor) inCalibration(s Setup) bool {
	for _, r := range p.Cal.Runs {
		c := r.Setup
		if c.Target == s.Target && c.Backend == s.Backend && c.Nodes == s.Nodes && c.DiskProfile == s.DiskProfile &&
			c.NetDelay == s.NetDelay && c.Clients == s.Clients && c.ValSize == s.ValSize {
			return true
		}
	}
	return false
}

func pointLabel(p *results.Point) string {
	l := fmt.Sprintf("%s %s n=%d delay=%gms disk=%s c=%d/%d", p.Target, p.Backend, p.Nodes, p.NetDelayMs, p.DiskProfile, p.Clients, p.Conns)
	if p.Mode == results.ModeOpen {
		l += fmt.Sprintf(" open@%g", p.RateOpsS)
	}
	return l
}

func (vp ValidationPoint) line() string {
	if vp.Skipped != "" {
		return fmt.Sprintf("%s: skipped (%s)", vp.Label, vp.Skipped)
	}
	return fmt.Sprintf("%s: measured %.0f/s, predicted %.0f/s (%+.0f%%)", vp.Label, vp.Measured, vp.Predicted, 100*vp.Error)
}

func (v *Validation) summarise() {
	var cap, all []float64
	for _, p := range v.Points {
		if p.Skipped != "" {
			continue
		}
		all = append(all, p.Error)
		if p.AtCapacity && !p.InCalibration {
			cap = append(cap, p.Error)
		}
	}
	v.AtCapacity, v.All = summarize(cap), summarize(all)
	var cpu []float64
	for _, p := range v.Points {
		if p.Skipped == "" && p.MeasuredCPU > 0 && p.PredictedCPU > 0 {
			cpu = append(cpu, (p.PredictedCPU-p.MeasuredCPU)/p.MeasuredCPU)
		}
	}
	v.CPUPerWrite = summarize(cpu)
}

func summarize(errs []float64) Summary {
	s := Summary{N: len(errs)}
	if len(errs) == 0 {
		return s
	}
	abs := make([]float64, len(errs))
	for i, e := range errs {
		abs[i] = math.Abs(e)
		if abs[i] <= 0.15 {
			s.Within15++
		}
		if abs[i] <= 0.25 {
			s.Within25++
		}
		if abs[i] <= 0.30 {
			s.Within30++
		}
	}
	s.Median, s.Worst = median(abs), slices.Max(abs)
	s.Bias = median(slices.Clone(errs))
	return s
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
