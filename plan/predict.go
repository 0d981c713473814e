package plan

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/adrbench/adrbench/plan/model"
	"github.com/adrbench/adrbench/plan/search"
)

// Bottleneck names, as plan.json spells them.
const (
	BottleneckSharedCPU    = "shared-cpu"
	BottleneckLeaderCPU    = "leader-cpu"
	BottleneckFollowerCPU  = "follower-cpu"
	BottleneckGenerator    = "generator-cpu"
	BottleneckLeaderLoop   = "leader-loop"
	BottleneckLeaderDisk   = "leader-disk"
	BottleneckFollowerDisk = "follower-disk"
	BottleneckNetwork      = "network"
	// BottleneckClients: the clients' own concurrency (each waits for
	// its write) limits the rate before any resource does.
	BottleneckClients = "clients"
	// BottleneckUnknown is a measured knee's: measuring finds the rate,
	// not the resource.
	BottleneckUnknown = "unknown"
)

// Predictor predicts with a calibration.
type Predictor struct {
	Cal *Calibration
	// Measure is how many writes a simulation measures after its warm-up
	// (0: 2000); enough for a stable p99.
	Measure int
	// Seed varies the simulations' random draws.
	Seed uint64
	// ProbeWarmup and ProbeDuration are the warm-up and measured time of
	// the probes a prediction stands for (0: 1 s and 5 s, plan measure's
	// defaults). When the model runs the collector, an open-loop
	// simulation covers as much, from a fresh cluster: the live heap, and
	// with it each mark phase, grows through a probe.
	ProbeWarmup, ProbeDuration time.Duration
}

func (p *Predictor) measure() int {
	if p.Measure > 0 {
		return p.Measure
	}
	return 2000
}

// Simulate runs setup s once: closed loop when rate is 0, else open loop
// at rate.
func (p *Predictor) Simulate(s Setup, rate float64, seed uint64) (model.Result, Built, error) {
	b, err := p.Cal.ModelConfig(s, rate)
	if err != nil {
		return model.Result{}, b, err
	}
	m := p.measure()
	// The warm-up fills the pipeline: every client's first two writes in
	// closed loop; in open loop the schedule fills it within a few
	// hundred writes.
	// In open loop, at least 100 ms of warm-up and 150 ms measured: at
	// high rates a count of writes alone would end the run while the
	// loops are still settling into the batch size the rate gives them.
	b.Config.Warmup, b.Config.Measure = max(1000, int(0.1*rate)), max(m, s.Clients, int(0.15*rate))
	if b.Config.GC.Percent > 0 && rate > 0 {
		w, d := p.ProbeWarmup, p.ProbeDuration
		if w == 0 {
			w = time.Second
		}
		if d == 0 {
			d = 5 * time.Second
		}
		b.Config.Warmup = max(b.Config.Warmup, int(w.Seconds()*rate))
		b.Config.Measure = max(b.Config.Measure, int(d.Seconds()*rate))
	}
	if rate == 0 {
		// A closed loop whose clients' writes go in a few large Saves
		// (a slow disk under fsync) completes them in lumps: measure
		// three rounds of every client, so the lumps average out.
		b.Config.Warmup, b.Config.Measure = 1000+s.Clients, max(m, 3*s.Clients)
	}
	b.Config.Seed = p.Seed*7919 + seed
	r, err := model.Simulate(b.Config)
	return r, b, err
}

// Prediction is the model's answer for one setup at an objective.
type Prediction struct {
	Setup Setup `json:"setup"`
	// Max is the highest open-loop rate the model sustains within the
	// objective, P99AtMax its p99 (ms) there; Low and High the band the
	// search left it in (the highest rate that passed, the lowest that
	// failed).
	Max      float64 `json:"max_writes_s"`
	P99AtMax float64 `json:"p99_ms_at_max"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
	// Saturation is the closed-loop throughput with the setup's clients:
	// what the resources allow whatever the latency.
	Saturation   float64    `json:"saturation_writes_s"`
	Bottleneck   string     `json:"bottleneck"`
	Util         model.Util `json:"util"`
	Extrapolated []string   `json:"extrapolated,omitempty"`
}

// Capacity searches the model for the highest rate s sustains within obj,
// bracketing from the closed-loop throughput of its clients.
func (p *Predictor) Capacity(ctx context.Context, s Setup, obj search.Objective) (Prediction, error) {
	pred := Prediction{Setup: s}
	closed, b, err := p.Simulate(s, 0, 1)
	if err != nil {
		return pred, err
	}
	pred.Extrapolated = b.Extrapolated
	pred.Saturation = closed.HarnessThroughput
	results := map[float64]model.Result{}
	calls := uint64(1)
	probe := func(_ context.Context, rate float64) (search.Outcome, error) {
		calls++
		r, _, err := p.Simulate(s, rate, calls)
		if err != nil {
			return search.Outcome{}, err
		}
		results[rate] = r
		return search.Outcome{Rate: rate, Achieved: r.Achieved, P50: r.Latency.P50 * 1e3,
			P99: r.Latency.P99 * 1e3, P999: r.Latency.P999 * 1e3}, nil
	}
	// An open loop with the setup's clients cannot sustain more than
	// the closed loop of the same clients completes: the search starts
	// just below that and never probes far above it.
	sat := math.Max(closed.HarnessThroughput, 1)
	// A light load first: one that misses the objective there (a round
	// trip longer than the objective allows) misses it at any rate, and
	// needs no search down to it.
	floor := math.Max(roundTo3(sat/50), 1)
	if out, err := probe(ctx, floor); err != nil {
		return pred, err
	} else if ok, _ := obj.Judge(out); !ok {
		pred.Util, pred.Bottleneck = results[floor].Util, classify(s, results[floor])
		return pred, nil
	}
	// No repeats: the final bracket (the highest rate that passed, the
	// lowest that failed) is the band.
	cfg := search.Config{Start: roundTo3(0.95 * sat), Min: floor, Max: roundTo3(1.2 * sat), Resolution: 0.05}
	res, err := search.Find(ctx, cfg, obj, probe, nil)
	if err != nil {
		return pred, err
	}
	pred.Max, pred.P99AtMax, pred.Low, pred.High = res.Max, res.P99AtMax, res.Low, res.High
	at, ok := results[res.Max]
	if !ok {
		at = closed
	}
	pred.Util = at.Util
	pred.Bottleneck = classify(s, at)
	if res.AboveMax && busiest(at.Util) < 0.6 {
		pred.Bottleneck = BottleneckClients
	}
	return pred, nil
}

// classify names the resource closest to saturation, or the network when
// none is near it and a round trip is at least half the median latency.
func classify(s Setup, r model.Result) string {
	u := r.Util
	type cand struct {
		name string
		v    float64
	}
	cands := []cand{
		{BottleneckSharedCPU, u.SharedCPU},
		{BottleneckLeaderCPU, u.LeaderCPU},
		{BottleneckFollowerCPU, u.FollowerCPU},
		{BottleneckGenerator, u.ClientCPU},
		{BottleneckLeaderDisk, u.LeaderDisk},
		{BottleneckFollowerDisk, u.FollowerDisk},
		{BottleneckLeaderLoop, u.LeaderLoop - u.LeaderDisk},
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.v > best.v {
			best = c
		}
	}
	if best.v < 0.6 && s.Nodes > 1 && s.RTT().Seconds() >= r.Latency.P50/2 {
		return BottleneckNetwork
	}
	return best.name
}

func busiest(u model.Util) float64 {
	return max(u.SharedCPU, u.LeaderCPU, u.FollowerCPU, u.ClientCPU, u.LeaderDisk, u.FollowerDisk, u.LeaderLoop)
}

func roundTo3(r float64) float64 {
	if r <= 0 {
		return r
	}
	p := math.Pow(10, math.Floor(math.Log10(r))-2)
	return math.Round(r/p) * p
}

// Grid is every combination of the axes, with the shared settings of base.
func Grid(base Setup, backends []string, nodes []int, delays []float64, profiles []string) []Setup {
	var out []Setup
	for _, b := range backends {
		for _, n := range nodes {
			for _, d := range delays {
				for _, p := range profiles {
					s := base
					s.Backend, s.Nodes, s.DiskProfile = b, n, p
					s.NetDelay = msDuration(d)
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// PredictAll predicts every setup at obj, in order; progress, when not nil,
// is told after each.
func (p *Predictor) PredictAll(ctx context.Context, setups []Setup, obj search.Objective, progress func(done, total int)) ([]Prediction, error) {
	out := make([]Prediction, 0, len(setups))
	for i, s := range setups {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		pr, err := p.Capacity(ctx, s, obj)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.Label(), err)
		}
		out = append(out, pr)
		if progress != nil {
			progress(i+1, len(setups))
		}
	}
	return out, nil
}
