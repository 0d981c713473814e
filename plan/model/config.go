package model

import (
	"fmt"
	"math"
)

// Costs are CPU seconds of the tasks of the write path. Every task runs on
// a core of its member's CPU (or of the generator's); see Config for which
// cores those are.
type Costs struct {
	// GenSend and GenRecv are the generator's cost of sending a request
	// and of taking its response.
	GenSend float64 `json:"gen_send_s"`
	GenRecv float64 `json:"gen_recv_s"`
	// ReqIn is the member's cost of taking a client request (decode,
	// register the waiter, queue the proposal); ReqOut that of answering
	// it once applied.
	ReqIn  float64 `json:"req_in_s"`
	ReqOut float64 `json:"req_out_s"`
	// Ready is the fixed cost of one pass of a member's raft loop: one
	// Ready built, persisted and advanced, whatever it holds.
	Ready float64 `json:"ready_s"`
	// Entry is the raft cost of one entry appended to a member's log.
	Entry float64 `json:"entry_s"`
	// SaveCall and SaveEntry are the log backend's CPU per Save and per
	// entry saved (encoding, copying, flushing; a background drainer's
	// work is counted here too).
	SaveCall  float64 `json:"save_call_s"`
	SaveEntry float64 `json:"save_entry_s"`
	// Apply is the cost of applying one committed entry to the state
	// machine; every member applies every entry.
	Apply float64 `json:"apply_s"`
	// Msg is the transport's cost of one message at each of its ends;
	// Byte is its cost per byte at each end.
	Msg  float64 `json:"msg_s"`
	Byte float64 `json:"byte_s"`
}

// Disk is the latency of a member's Save: the calibrated distribution for
// one entry, plus PerEntry for every further entry of the same Save. A Save
// with no new entries (only a commit index to record) needs no sync and
// takes NoSync.
type Disk struct {
	// Quantiles are Save latencies in seconds at evenly spaced
	// probabilities from 0 to 1 (at least two values, non-decreasing).
	Quantiles []float64 `json:"quantiles_s"`
	PerEntry  float64   `json:"per_entry_s"`
	NoSync    float64   `json:"no_sync_s"`
}

// GC is the garbage collector of the one Go process that every member
// and the generator share (SharedCores). A cycle starts when the process
// has allocated Percent% of the live heap since the previous one; its
// mark phase is MarkPerByte seconds of CPU per live byte, during which
// the collector (its background workers and the assists it charges the
// goroutines that allocate) takes Share of the cores, so it lasts
// MarkPerByte*live/(Share*SharedCores); no task starts while it marks
// (the assists hold up the goroutines that allocate). The live heap grows
// with the log: every member keeps each entry it appends in memory (its
// raft log and its state machine's index), LivePerEntry bytes of it, on
// top of LiveBase. The zero value (Percent 0) collects nothing; the task
// costs then include the collector's work, spread evenly.
type GC struct {
	Percent      float64 `json:"percent"`
	LiveBase     float64 `json:"live_base_bytes"`
	LivePerEntry float64 `json:"live_per_entry_bytes"`
	// AllocWrite is the bytes allocated per write by the generator and
	// the member taking it; AllocEntry those per entry a member appends
	// (raft, its log backend, applying it).
	AllocWrite  float64 `json:"alloc_write_bytes"`
	AllocEntry  float64 `json:"alloc_entry_bytes"`
	MarkPerByte float64 `json:"mark_per_byte_s"`
	Share       float64 `json:"share"`
}

func (g GC) validate(shared int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: gc: "+format, append([]any{ErrConfig}, args...)...)
	}
	if g.Percent == 0 {
		return nil
	}
	for name, v := range map[string]float64{"percent": g.Percent, "live_base": g.LiveBase,
		"live_per_entry": g.LivePerEntry, "alloc_write": g.AllocWrite, "alloc_entry": g.AllocEntry,
		"mark_per_byte": g.MarkPerByte} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return bad("%s = %v", name, v)
		}
	}
	switch {
	case shared == 0:
		return bad("a collector needs shared_cores: it models the one process they run")
	case !(g.Share > 0 && g.Share < 1):
		return bad("share %v not in (0, 1)", g.Share)
	case g.LiveBase <= 0:
		return bad("live_base %v: a process has a live heap", g.LiveBase)
	}
	return nil
}

// Load is what the clients do.
type Load struct {
	// Closed: each client sends its next write when the previous one
	// returns. Otherwise writes are due at Rate per second (open loop),
	// evenly spaced as the harness schedules them, or as a Poisson
	// process when Poisson is set; Clients workers send them, and a due
	// write waits for a free worker, its latency counted from when it was
	// due.
	Closed  bool    `json:"closed"`
	Rate    float64 `json:"rate"`
	Poisson bool    `json:"poisson"`
	Clients int     `json:"clients"`
	// Conns are the client connections; client i uses connection
	// i mod Conns, and connection j goes to member j mod Nodes, as the
	// harness dials them. ToLeader sends everything to the leader.
	Conns    int  `json:"conns"`
	ToLeader bool `json:"to_leader"`
}

// Config is one simulated configuration.
type Config struct {
	Nodes int `json:"nodes"`
	// SharedCores > 0: every member and the generator share these cores
	// (one machine, as on the calibration host). Otherwise each member
	// has CoresPerMember cores of its own, and the generator ClientCores
	// (0: as many as it wants).
	SharedCores    int `json:"shared_cores"`
	CoresPerMember int `json:"cores_per_member"`
	ClientCores    int `json:"client_cores"`

	Costs Costs `json:"costs"`
	// ExpCosts draws each task's cost from an exponential distribution
	// with the cost as its mean, instead of taking it as it is; it exists
	// for the queueing tests.
	ExpCosts bool `json:"exp_costs,omitempty"`

	// Delay is the one-way delay of every peer link and Jitter the bound
	// of a uniform offset added to it per message (never below zero; a
	// link stays FIFO), as the harness injects them. Seconds.
	Delay  float64 `json:"delay_s"`
	Jitter float64 `json:"jitter_s"`

	// Disk is the Save latency of every member; LeaderDisk, when set,
	// replaces it for the leader.
	Disk       Disk  `json:"disk"`
	LeaderDisk *Disk `json:"leader_disk,omitempty"`

	Load Load `json:"load"`
	// GC, when its Percent is set, collects the shared process's garbage
	// in mark phases that slow every core (SharedCores only).
	GC GC `json:"gc"`
	// EntryBytes is one entry's size in a message (key, value, request
	// framing).
	EntryBytes int `json:"entry_bytes"`

	// Warmup requests run first, unmeasured; then Measure requests are
	// measured.
	Warmup  int    `json:"warmup"`
	Measure int    `json:"measure"`
	Seed    uint64 `json:"seed"`
	// MaxBatch bounds the proposals and the messages one loop pass takes,
	// as the store's raft loop does (512).
	MaxBatch int `json:"max_batch"`
}

// Validate names the first bad field of c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
	switch {
	case c.Nodes < 1 || c.Nodes > 64:
		return bad("nodes %d not in 1..64", c.Nodes)
	case c.SharedCores < 0 || c.CoresPerMember < 0 || c.ClientCores < 0:
		return bad("negative core count")
	case c.SharedCores == 0 && c.CoresPerMember == 0:
		return bad("neither shared_cores nor cores_per_member is set")
	case c.SharedCores > 0 && c.CoresPerMember > 0:
		return bad("shared_cores %d and cores_per_member %d are both set", c.SharedCores, c.CoresPerMember)
	case !finite(c.Delay) || !finite(c.Jitter):
		return bad("delay %v, jitter %v", c.Delay, c.Jitter)
	case c.Load.Clients < 1:
		return bad("clients %d < 1", c.Load.Clients)
	case c.Load.Conns < 1 || c.Load.Conns > c.Load.Clients:
		return bad("conns %d not in 1..clients (%d)", c.Load.Conns, c.Load.Clients)
	case !c.Load.Closed && !(c.Load.Rate > 0 && finite(c.Load.Rate)):
		return bad("open loop needs a rate > 0, got %v", c.Load.Rate)
	case c.Warmup < 0 || c.Measure < 1:
		return bad("warmup %d, measure %d", c.Warmup, c.Measure)
	case c.EntryBytes < 0:
		return bad("entry bytes %d", c.EntryBytes)
	case c.MaxBatch < 0:
		return bad("max batch %d", c.MaxBatch)
	}
	for name, v := range map[string]float64{
		"gen_send": c.Costs.GenSend, "gen_recv": c.Costs.GenRecv, "req_in": c.Costs.ReqIn,
		"req_out": c.Costs.ReqOut, "ready": c.Costs.Ready, "entry": c.Costs.Entry,
		"save_call": c.Costs.SaveCall, "save_entry": c.Costs.SaveEntry, "apply": c.Costs.Apply,
		"msg": c.Costs.Msg, "byte": c.Costs.Byte,
	} {
		if !finite(v) {
			return bad("cost %s = %v", name, v)
		}
	}
	if err := c.GC.validate(c.SharedCores); err != nil {
		return err
	}
	if err := c.Disk.validate("disk"); err != nil {
		return err
	}
	if c.LeaderDisk != nil {
		return c.LeaderDisk.validate("leader_disk")
	}
	return nil
}

func (d Disk) validate(field string) error {
	if len(d.Quantiles) < 2 {
		return fmt.Errorf("%w: %s: %d quantiles, want at least 2", ErrConfig, field, len(d.Quantiles))
	}
	for i, q := range d.Quantiles {
		if math.IsNaN(q) || math.IsInf(q, 0) || q < 0 || i > 0 && q < d.Quantiles[i-1] {
			return fmt.Errorf("%w: %s: quantile %d = %v is negative or decreasing", ErrConfig, field, i, q)
		}
	}
	if math.IsNaN(d.PerEntry) || d.PerEntry < 0 || math.IsNaN(d.NoSync) || d.NoSync < 0 {
		return fmt.Errorf("%w: %s: per entry %v, no sync %v", ErrConfig, field, d.PerEntry, d.NoSync)
	}
	return nil
}

// Mean is the mean Save latency of one entry.
func (d Disk) Mean() float64 {
	// The quantile function is piecewise linear; its mean is the
	// trapezoid rule over the evenly spaced probabilities.
	n := len(d.Quantiles)
	if n < 2 {
		return 0
	}
	var s float64
	for i := 1; i < n; i++ {
		s += (d.Quantiles[i-1] + d.Quantiles[i]) / 2
	}
	return s / float64(n-1)
}

// Fixed is a Disk whose every Save of one entry takes d.
func Fixed(d float64) Disk { return Disk{Quantiles: []float64{d, d}} }

// Exponential is a Disk whose one-entry Saves are exponential with the
// given mean, tabulated at n+1 quantiles (the last one, infinite in
// theory, is cut at the 1-1/(4n) quantile so the table's mean stays close).
func Exponential(mean float64, n int) Disk {
	q := make([]float64, n+1)
	for i := range q {
		p := float64(i) / float64(n)
		if i == n {
			p = 1 - 1/(4*float64(n))
		}
		q[i] = -mean * math.Log(1-p)
	}
	return Disk{Quantiles: q}
}
