package plan

import (
	"fmt"
	"runtime"
	"runtime/metrics"

	"github.com/adrbench/adrbench/plan/model"
)

// GCStats is what the Go runtime says of its collector over one
// calibration run (every member and the generator in this process).
type GCStats struct {
	// Cycles completed, bytes allocated, and the CPU the collector's
	// marking took (its dedicated and fractional workers, the assists it
	// charged allocating goroutines, its idle-time workers), per the
	// runtime's estimates, over the measured part of the run.
	Cycles    float64 `json:"cycles"`
	Alloc     float64 `json:"alloc_bytes"`
	Assist    float64 `json:"assist_s"`
	Dedicated float64 `json:"dedicated_s"`
	Idle      float64 `json:"idle_s"`
	// LiveFresh is the live heap right after the cluster started;
	// LiveStart and LiveEnd that before and after the measured part (each
	// after a forced collection, so exact).
	LiveFresh float64 `json:"live_fresh_bytes"`
	LiveStart float64 `json:"live_start_bytes"`
	LiveEnd   float64 `json:"live_end_bytes"`
	// LiveLoaded is the heap the last cycle of the measured part found
	// live, read before the forced collection: LiveEnd plus what the load
	// itself kept reachable then (requests in flight, their buffers, the
	// batch the state machine has not committed). 0 in calibrations made
	// before it was measured.
	LiveLoaded float64 `json:"live_loaded_bytes,omitempty"`
}

// inFlight is the heap a run's load kept live beyond the log and the
// cluster: the last cycle's live heap less the live heap after the run
// (an underestimate by what the log grew after that cycle).
func (g *GCStats) inFlight() float64 { return max(0, g.LiveLoaded-g.LiveEnd) }

// Mark is the collector's marking CPU over the run.
func (g *GCStats) Mark() float64 { return g.Assist + g.Dedicated + g.Idle }

// GCCal is the collector of the process the calibration ran in, fitted to
// the runs' GCStats; ModelConfig gives it to shared-core predictions
// (model.GC says what each field does).
type GCCal struct {
	Percent       float64 `json:"percent"`
	LiveBase      float64 `json:"live_base_bytes"`
	LivePerMember float64 `json:"live_per_member_bytes"`
	LivePerEntry  float64 `json:"live_per_entry_bytes"`
	// LiveLoad and LivePerClient are the heap a load keeps live while it
	// runs, fixed and per client (least squares over the runs' in-flight
	// heap), on top of the live heap of an idle cluster and its log.
	LiveLoad      float64 `json:"live_load_bytes,omitempty"`
	LivePerClient float64 `json:"live_per_client_bytes,omitempty"`
	AllocWrite    float64 `json:"alloc_write_bytes"`
	AllocEntry    float64 `json:"alloc_entry_bytes"`
	MarkPerByte   float64 `json:"mark_per_byte_s"`
	Share         float64 `json:"share"`
	// Overhead is the marking CPU over the rest of the runs' CPU: what
	// the task costs, which leave marking out, must be scaled up by when
	// the model does not run the collector.
	Overhead float64 `json:"overhead"`
	Fit      string  `json:"fit"`
}

// gcSample is the runtime's collector metrics at one moment.
type gcSample struct {
	cycles, alloc, live, assist, dedicated, idle, percent float64
}

var gcMetricNames = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
	"/gc/gogc:percent",
}

func readGC() gcSample {
	s := make([]metrics.Sample, len(gcMetricNames))
	for i, n := range gcMetricNames {
		s[i].Name = n
	}
	metrics.Read(s)
	v := make([]float64, len(s))
	for i := range s {
		switch s[i].Value.Kind() {
		case metrics.KindUint64:
			v[i] = float64(s[i].Value.Uint64())
		case metrics.KindFloat64:
			v[i] = s[i].Value.Float64()
		}
	}
	return gcSample{cycles: v[0], alloc: v[1], live: v[2], assist: v[3], dedicated: v[4], idle: v[5], percent: v[6]}
}

// liveNow collects, then reads the live heap.
func liveNow() float64 {
	runtime.GC()
	return readGC().live
}

// gcOver is the collector's work between two samples.
func gcOver(a, b gcSample) GCStats {
	return GCStats{Cycles: b.cycles - a.cycles, Alloc: b.alloc - a.alloc, Assist: b.assist - a.assist,
		Dedicated: b.dedicated - a.dedicated, Idle: b.idle - a.idle}
}

// gcBackgroundShare is the share of the cores Go's collector gives its
// background mark workers while it marks (GOMAXPROCS/4 of them, dedicated
// or fractional); assists make up the rest of what it takes.
const gcBackgroundShare = 0.25

// fitGC fits the collector to the cluster runs: allocation per write and
// per entry appended (least squares), the live heap of a fresh cluster
// per member (least squares) and per entry appended (pooled), the heap a
// load keeps live, fixed and per client (least squares over the runs that
// measured it), the marking CPU per live byte (pooled over cycles at the
// runs' mean live heap, the load's included), and
// the share of the cores a mark takes, from the runs that kept the cores
// busy (the most clients: no idle workers): the background share scaled
// by all marking CPU over the background workers'.
func fitGC(cal *Calibration, runs []CalRun, percent float64) error {
	var allocRows, baseRows [][]float64
	var allocY, baseY []float64
	var dLive, dEntries, mark, cpu, scanned, busyMark, busyBG float64
	var loadRows [][]float64
	var loadY []float64
	most := 0
	for _, r := range runs {
		most = max(most, r.Setup.Clients)
		if r.GC != nil && r.GC.LiveLoaded > 0 {
			loadRows = append(loadRows, []float64{1, float64(r.Setup.Clients)})
			loadY = append(loadY, r.GC.inFlight())
		}
	}
	load := []float64{0, 0}
	if len(loadRows) > 0 {
		var err error
		if load, err = nnls(loadRows, loadY); err != nil {
			return err
		}
	}
	loaded := func(clients int) float64 { return load[0] + load[1]*float64(clients) }
	for _, r := range runs {
		g := r.GC
		if g == nil {
			return fmt.Errorf("%w: run %s has no collector statistics", ErrCalibration, r.Setup.Label())
		}
		var entries float64
		for _, e := range r.Entries {
			entries += float64(e)
		}
		allocRows = append(allocRows, []float64{float64(r.Ops), entries})
		allocY = append(allocY, g.Alloc)
		baseRows = append(baseRows, []float64{1, float64(r.Setup.Nodes)})
		baseY = append(baseY, g.LiveFresh)
		dLive += g.LiveEnd - g.LiveStart
		dEntries += entries
		mark += g.Mark()
		cpu += r.CPU
		scanned += g.Cycles * ((g.LiveStart+g.LiveEnd)/2 + loaded(r.Setup.Clients))
		if r.Setup.Clients == most {
			busyMark += g.Assist + g.Dedicated
			busyBG += g.Dedicated
		}
	}
	a, err := nnls(allocRows, allocY)
	if err != nil {
		return err
	}
	b, err := nnls(baseRows, baseY)
	if err != nil {
		return err
	}
	if dEntries <= 0 || scanned <= 0 || busyBG <= 0 || cpu <= mark {
		return fmt.Errorf("%w: the runs collected too little to fit the collector (%.0f entries, %.0f bytes marked, %.3f s of background marking)",
			ErrCalibration, dEntries, scanned, busyBG)
	}
	c := &GCCal{Percent: percent, LiveBase: b[0], LivePerMember: b[1], LivePerEntry: max(0, dLive/dEntries),
		LiveLoad: load[0], LivePerClient: load[1], AllocWrite: a[0], AllocEntry: a[1], MarkPerByte: mark / scanned,
		Share:    min(0.95, max(gcBackgroundShare, gcBackgroundShare*busyMark/busyBG)),
		Overhead: mark / (cpu - mark)}
	c.Fit = fmt.Sprintf("GOGC %.0f; fresh cluster %.1f MB + %.1f MB/member live, +%.0f B live per entry appended, +%.1f MB + %.1f kB per client while loaded; "+
		"%.1f kB allocated per write + %.1f kB per entry; marking %.2f ms of CPU per live MB (%.0f%% of the runs' CPU); a mark takes %.0f%% of the cores",
		percent, c.LiveBase/1e6, c.LivePerMember/1e6, c.LivePerEntry, c.LiveLoad/1e6, c.LivePerClient/1e3, c.AllocWrite/1e3, c.AllocEntry/1e3,
		c.MarkPerByte*1e9, 100*mark/cpu, 100*c.Share)
	cal.GC = c
	return nil
}

// modelGC is the collector of a shared-core setup of n members under the
// load of clients, whose cores run slower by scale.
func (c *GCCal) modelGC(n, clients int, scale float64) model.GC {
	return model.GC{Percent: c.Percent, LiveBase: c.LiveBase + c.LivePerMember*float64(n) + c.LiveLoad + c.LivePerClient*float64(clients),
		LivePerEntry: c.LivePerEntry, AllocWrite: c.AllocWrite, AllocEntry: c.AllocEntry,
		MarkPerByte: c.MarkPerByte * scale, Share: c.Share}
}
