package model

import (
	"fmt"
	"math"
	"slices"
)

// Latency summarises the measured writes' latencies, in seconds.
type Latency struct {
	Mean float64 `json:"mean_s"`
	P50  float64 `json:"p50_s"`
	P90  float64 `json:"p90_s"`
	P99  float64 `json:"p99_s"`
	P999 float64 `json:"p999_s"`
	Max  float64 `json:"max_s"`
}

// Util is how busy each resource was during the measured window, as a
// share of its capacity.
type Util struct {
	// SharedCPU is the shared cores' (SharedCores > 0); LeaderCPU,
	// FollowerCPU (the busiest follower) and ClientCPU the dedicated ones.
	SharedCPU   float64 `json:"shared_cpu"`
	LeaderCPU   float64 `json:"leader_cpu"`
	FollowerCPU float64 `json:"follower_cpu"`
	ClientCPU   float64 `json:"client_cpu"`
	// LeaderDisk and FollowerDisk (the busiest follower) are the share of
	// the window a member's raft loop waited on Save.
	LeaderDisk   float64 `json:"leader_disk"`
	FollowerDisk float64 `json:"follower_disk"`
	// LeaderLoop is the share of the window the leader's raft loop was
	// busy at all (its CPU work and its Saves): the loop is one goroutine,
	// so at 1 it cannot take more.
	LeaderLoop float64 `json:"leader_loop"`
}

// Result is what one simulation yields.
type Result struct {
	// Offered is the open-loop rate (0 for closed loop).
	Offered float64 `json:"offered"`
	// Throughput is writes completed per second during the measured
	// window: what a system that keeps up completes, whatever is in
	// flight at the window's ends.
	Throughput float64 `json:"throughput"`
	// HarnessThroughput is the measured writes divided by the time from
	// the window's start to the last one's completion, the way the
	// harness computes a point's throughput.
	HarnessThroughput float64 `json:"harness_throughput"`
	// Achieved is the rate an open loop kept up with: the offered rate
	// less the rate at which writes fell behind, read from how the
	// measured writes' latency grows with their due time (least squares;
	// a system that keeps up has no trend, an overloaded one falls
	// behind by its excess). It averages over every measured write, so
	// unlike a count of completions in the window it does not jump with
	// large Saves landing on either side of the window's ends.
	Achieved float64 `json:"achieved"`
	Latency  Latency `json:"latency"`
	Util     Util    `json:"util"`
	// EntriesPerSave is the leader's mean Save size in the window.
	EntriesPerSave float64 `json:"entries_per_save"`
	// CPUPerWrite is the CPU (s) all pools spent per write completed in
	// the window.
	CPUPerWrite float64 `json:"cpu_per_write_s"`
	// PassesPerWrite is the raft loop passes of all members per write;
	// EntriesPerWrite the entries they appended, MsgsPerWrite and
	// BytesPerWrite the messages (and their bytes) they took and sent.
	PassesPerWrite  float64 `json:"passes_per_write"`
	EntriesPerWrite float64 `json:"entries_per_write"`
	MsgsPerWrite    float64 `json:"msgs_per_write"`
	BytesPerWrite   float64 `json:"bytes_per_write"`
	// GCCycles are the collection cycles that started in the window and
	// GCMarking the share of the window the collector spent marking.
	GCCycles  int     `json:"gc_cycles"`
	GCMarking float64 `json:"gc_marking"`
	Window    float64 `json:"window_s"`
	Events    int     `json:"events"`
}

func (s *sim) result() (Result, error) {
	if !s.windowOpen || len(s.lats) == 0 {
		return Result{}, fmt.Errorf("%w: no write was measured", ErrConfig)
	}
	if s.inWindow {
		// Closed loop whose last request was never issued cannot happen;
		// close the window at the end for safety.
		s.markEnd()
	}
	r := Result{Events: s.nevents, Window: s.winEnd - s.winStart}
	if !s.cfg.Load.Closed {
		r.Offered = s.cfg.Load.Rate
	}
	if r.Window > 0 {
		r.Throughput = float64(s.winDone) / r.Window
	}
	if d := s.lastDone - s.winStart; d > 0 {
		r.HarnessThroughput = float64(len(s.lats)) / d
	}
	if !s.cfg.Load.Closed {
		r.Achieved = s.cfg.Load.Rate * (1 - max(0, trend(s.dues, s.lats)))
	}
	lats := s.lats
	slices.Sort(lats)
	var sum float64
	for _, l := range lats {
		sum += l
	}
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lats)))) - 1
		return lats[max(0, min(i, len(lats)-1))]
	}
	r.Latency = Latency{Mean: sum / float64(len(lats)), P50: q(.5), P90: q(.9), P99: q(.99), P999: q(.999), Max: lats[len(lats)-1]}

	w := r.Window
	if w <= 0 {
		return r, nil
	}
	r.GCCycles = int(s.gc1[0] - s.gc0[0])
	r.GCMarking = (s.gc1[1] - s.gc0[1]) / w
	util := func(p int) float64 {
		pl := s.pools[p]
		if pl.cores == 0 {
			return 0
		}
		return (s.busy1[p] - s.busy0[p]) / (w * float64(pl.cores))
	}
	if s.cfg.SharedCores > 0 {
		r.Util.SharedCPU = util(0)
	} else {
		r.Util.LeaderCPU = util(0)
		for i := 1; i < s.cfg.Nodes; i++ {
			r.Util.FollowerCPU = max(r.Util.FollowerCPU, util(i))
		}
		r.Util.ClientCPU = util(s.cfg.Nodes)
	}
	r.Util.LeaderDisk = (s.save1[0] - s.save0[0]) / w
	r.Util.LeaderLoop = (s.loop1[0] - s.loop0[0]) / w
	for i := 1; i < s.cfg.Nodes; i++ {
		r.Util.FollowerDisk = max(r.Util.FollowerDisk, (s.save1[i]-s.save0[i])/w)
	}
	var busy float64
	for p := range s.pools {
		busy += s.busy1[p] - s.busy0[p]
	}
	if s.winDone > 0 {
		r.CPUPerWrite = busy / float64(s.winDone)
		w := float64(s.winDone)
		r.PassesPerWrite = float64(s.passes1[0]-s.passes0[0]) / w
		r.EntriesPerWrite = float64(s.passes1[1]-s.passes0[1]) / w
		r.MsgsPerWrite = float64(s.passes1[2]-s.passes0[2]) / w
		r.BytesPerWrite = float64(s.passes1[3]-s.passes0[3]) / w
	}
	if n := s.saves1[0] - s.saves0[0]; n > 0 {
		r.EntriesPerSave = float64(s.entries1[0]-s.entries0[0]) / float64(n)
	}
	return r, nil
}

// trend is the least-squares slope of y against x.
func trend(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d <= 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
