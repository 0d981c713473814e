package plan

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
)

// CalibrateConfig says how to calibrate.
type CalibrateConfig struct {
	// Backends is the registry the backends are opened from; Names are
	// the ones to measure (default: all it has).
	Backends *logbackends.Registry
	// ServeBinary is the adrbench executable for the generator's own
	// measurement (process target); "" is this program.
	ServeBinary string
	// Dir is where temporary data goes (on the disk to calibrate); ""
	// is the system's temporary directory.
	Dir string
	// RunDuration is how long each cluster run measures (default 3s),
	// after RunWarmup (default 1s).
	RunDuration time.Duration
	RunWarmup   time.Duration
	// SaveBudget bounds each Save measurement phase (default 600ms).
	SaveBudget time.Duration
	// KeySize and ValSize are the puts' sizes (default 8 and 256).
	KeySize, ValSize int
	// Progress, when not nil, gets one line per step.
	Progress io.Writer
}

func (c *CalibrateConfig) defaults() {
	if c.RunDuration == 0 {
		c.RunDuration = 3 * time.Second
	}
	if c.RunWarmup == 0 {
		c.RunWarmup = time.Second
	}
	if c.SaveBudget == 0 {
		c.SaveBudget = 600 * time.Millisecond
	}
	if c.KeySize == 0 {
		c.KeySize = 8
	}
	if c.ValSize == 0 {
		c.ValSize = 256
	}
}

// calNodes and calClients are the cluster runs the CPU costs are fitted
// to: 1, 3 and 5 members, each with 1 client (a pass per write), 16, 256
// (large batches) and 1000 on 100 connections (the load the capacity
// questions ask about, whose goroutines and heap set how hard the
// collector's assists press), on the memory backend so no disk is in the
// way.
// genClients and genConns are the load of the generator's own
// measurement.
const genClients, genConns = 64, 16

var (
	calNodes   = []int{1, 3, 5}
	calClients = [][2]int{{1, 1}, {16, 16}, {256, 32}, {1000, 100}}
)

// Calibrate measures this machine's costs for the model.
func Calibrate(ctx context.Context, cfg CalibrateConfig) (*Calibration, error) {
	return calibrate(ctx, cfg, harnessRunner{backends: cfg.Backends, serveBinary: cfg.ServeBinary})
}

func calibrate(ctx context.Context, cfg CalibrateConfig, runner clusterRunner) (*Calibration, error) {
	cfg.defaults()
	if cfg.Backends == nil {
		return nil, fmt.Errorf("%w: no backend registry", ErrConfig)
	}
	started := time.Now()
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "[%5.1fs] "+format+"\n", append([]any{time.Since(started).Seconds()}, args...)...)
		}
	}
	dir := cfg.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	tmp, err := os.MkdirTemp(dir, "adrbench-calibrate-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	defer os.RemoveAll(tmp)

	cal := &Calibration{Schema: CalibrationSchema, Created: started.UTC(),
		Host: probeHost(ctx, tmp), Cores: numCPU()}

	// Save latency and CPU of each backend, on each profile for those
	// whose Save waits for the disk.
	sb := saveBench{registry: cfg.Backends, dir: tmp, entry: cfg.KeySize + cfg.ValSize + entryOverhead,
		batch: 16, budget: cfg.SaveBudget, samples: 2000}
	for _, b := range cfg.Backends.Names() {
		profiles := []string{diskprofile.Native}
		if profileSensitive(b) {
			profiles = diskprofile.Names()
		}
		for _, p := range profiles {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sc, err := sb.run(b, p)
			if err != nil {
				return nil, err
			}
			if native, ok := cal.save(b, diskprofile.Native); ok && p != diskprofile.Native {
				// A profile sleeps after the real sync and adds no CPU;
				// its few slow Saves measure CPU far less well than the
				// native disk's many.
				sc.CPUCall, sc.CPUEntry = native.CPUCall, native.CPUEntry
			}
			say("save %-8s %-9s mean %8.3f ms  p99 %8.3f ms  +%.3f ms/entry  cpu %.1f us/save + %.2f us/entry",
				b, p, sc.Mean*1e3, sc.P99*1e3, sc.PerEntry*1e3, sc.CPUCall*1e6, sc.CPUEntry*1e6)
			cal.Saves = append(cal.Saves, sc)
		}
	}
	memSave, ok := cal.save("memory", diskprofile.Native)
	if !ok {
		return nil, fmt.Errorf("%w: the memory backend is needed to fit the CPU costs", ErrCalibration)
	}
	if slices.Contains(cfg.Backends.Names(), "batched") {
		short := sb
		short.budget = cfg.SaveBudget / 2
		if cal.Contention, err = short.contention("batched", []int{1, 3, 5, 9}); err != nil {
			return nil, err
		}
		say("native disk contention: %v", cal.Contention)
	}

	// Transports and the state machine.
	for _, kind := range []string{"inproc", "tcp"} {
		msg, byt, err := transportCost(ctx, kind)
		if err != nil {
			return nil, err
		}
		if kind == "inproc" {
			cal.CPU.MsgInproc, cal.CPU.ByteInproc = msg, byt
		} else {
			cal.CPU.MsgTCP, cal.CPU.ByteTCP = msg, byt
		}
		say("transport %-6s %.2f us/message + %.3f ns/byte", kind, msg*1e6, byt*1e9)
	}
	if cal.CPU.Apply, err = applyCost(tmp, 30000, cfg.KeySize, cfg.ValSize); err != nil {
		return nil, err
	}
	say("apply %.2f us/put", cal.CPU.Apply*1e6)

	// The generator alone, in a process of its own.
	gs := DefaultSetup()
	gs.Target, gs.Backend, gs.Nodes, gs.Clients, gs.Conns = TargetProcess, "memory", 1, genClients, genConns
	gs.KeySize, gs.ValSize = cfg.KeySize, cfg.ValSize
	gr, git, err := runner.generatorRun(ctx, gs, cfg.RunWarmup, cfg.RunDuration)
	if err != nil {
		return nil, err
	}
	cal.Git = git
	gr.Purpose = "generator CPU per write (process target: generator alone in this process)"
	cal.CPU.Gen = gr.CPU / float64(gr.Ops)
	say("generator %.1f us/write (servers %.1f us/write)", cal.CPU.Gen*1e6, gr.ServerCPU/float64(gr.Ops)*1e6)

	// Cluster runs for the per-write, per-pass and per-entry costs.
	var runs []CalRun
	for _, n := range calNodes {
		for _, cc := range calClients {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			s := DefaultSetup()
			s.Backend, s.Nodes, s.Clients, s.Conns = "memory", n, cc[0], cc[1]
			s.KeySize, s.ValSize = cfg.KeySize, cfg.ValSize
			r, err := runner.closedRun(ctx, s, cfg.RunWarmup, cfg.RunDuration)
			if err != nil {
				return nil, err
			}
			r.Purpose = "CPU per write, per loop pass and per entry (inproc, memory backend)"
			say("run n=%d c=%-4d %7.0f writes/s  %.1f us CPU/write  %.1f entries/pass at the leader",
				n, s.Clients, r.Throughput, r.CPU/float64(r.Ops)*1e6, float64(r.Entries[0])/math.Max(1, float64(r.Saves[0])))
			runs = append(runs, r)
		}
	}
	cal.Envelope = Envelope{MaxNodes: slices.Max(calNodes), MaxDelayMs: 5, MinValSize: cfg.ValSize / 4,
		MaxValSize: cfg.ValSize * 4, Profiles: diskprofile.Names(), Backends: cfg.Backends.Names(),
		MaxClients: 1000, SharedCores: true}
	if err := fitGC(cal, runs, readGC().percent); err != nil {
		return nil, err
	}
	say("collector: %s", cal.GC.Fit)
	if err := fitCPU(cal, runs, memSave); err != nil {
		return nil, err
	}
	if err := fitThroughModel(cal, runs, memSave); err != nil {
		return nil, err
	}
	say("fit: %s", cal.CPU.Fit)
	// Set after the fit, which matches CPU time, not wall time: the share
	// of the cores others took slows predictions for this machine, not
	// the costs themselves.
	cal.AvailableCores = availableCores(runs, cal.Cores)
	say("the saturated runs got %.2f of %d cores", cal.AvailableCores, cal.Cores)

	// The in-sample check: what the model says of the runs it was fitted
	// to.
	pr := &Predictor{Cal: cal, Measure: 3000}
	for i := range runs {
		r, _, err := pr.Simulate(runs[i].Setup, 0, uint64(i))
		if err != nil {
			return nil, err
		}
		runs[i].Predicted = r.HarnessThroughput
		// In CPU time: the share others took of the cores is not CPU spent.
		runs[i].PredictedCPU = r.CPUPerWrite / cal.cpuScale()
	}
	gr.Predicted = 0
	cal.Runs = append([]CalRun{gr}, runs...)
	cal.Duration = time.Since(started).Seconds()
	cal.Notes = append(cal.Notes,
		"CPU costs are fitted to inproc runs of the memory backend: every member and the generator share this machine's cores, as in a cores_per_member 0 prediction.",
		"Disk profiles other than native are emulated (diskprofile adds latency after the real sync); their Save distributions are measured through that emulation.")
	return cal, nil
}

// fitCPU fits the per-write, per-pass and per-entry CPU to the runs by
// least squares, after taking out what the microbenchmarks measured
// (apply on every member, messages and bytes on the in-process network,
// the memory backend's own Save work), and splits the per-write cost into
// the generator's and the members'.
func fitCPU(cal *Calibration, runs []CalRun, mem SaveCal) error {
	var rows [][]float64
	var ys []float64
	for _, r := range runs {
		n := r.Setup.Nodes
		var saves, entries, followerSaves float64
		for i := range r.Saves {
			saves += float64(r.Saves[i])
			entries += float64(r.Entries[i])
			if i > 0 {
				followerSaves += float64(r.Saves[i])
			}
		}
		ops := float64(r.Ops)
		// A follower's pass takes an append and answers it; a write sent
		// to a follower is forwarded once.
		msgs := 2*followerSaves + ops*float64(n-1)/float64(n)
		bytes := float64(n-1)*ops*float64(r.Setup.KeySize+r.Setup.ValSize+entryOverhead)*2 + msgs*64
		known := ops*float64(n)*cal.CPU.Apply + msgs*cal.CPU.MsgInproc + bytes*cal.CPU.ByteInproc +
			saves*mem.CPUCall + entries*mem.CPUEntry
		rows = append(rows, []float64{ops, saves, entries})
		ys = append(ys, cal.taskCPU(r)-known)
	}
	x, err := nnls(rows, ys)
	if err != nil {
		return err
	}
	perWrite := x[0]
	cal.CPU.Write, cal.CPU.WritePerConn = perWrite, 0
	cal.CPU.Ready, cal.CPU.Entry = x[1], x[2]
	var resid []float64
	for i, row := range rows {
		pred := x[0]*row[0] + x[1]*row[1] + x[2]*row[2]
		resid = append(resid, (pred-ys[i])/runs[i].CPU)
	}
	cal.CPU.Fit = fmt.Sprintf("least squares over %d inproc runs: %.1f us/write, %.1f us/pass, %.2f us/entry; residuals of total CPU %s",
		len(runs), perWrite*1e6, x[1]*1e6, x[2]*1e6, pcts(resid))
	return nil
}

// fitThroughModel refits the per-write, per-pass and per-entry CPU so
// that the model, run on each calibration run's setup, spends the CPU per
// write that was measured. The counts come from the model itself (its
// passes, entries and messages per write), not from the runs: the costs
// are then the ones the model's own way of grouping work needs, and the
// runs' counts, which depend on how much of the machine others left
// them, matter less. Each round simulates with the previous round's
// costs; three rounds settle them.
func fitThroughModel(cal *Calibration, runs []CalRun, mem SaveCal) error {
	pr := &Predictor{Cal: cal, Measure: 3000}
	var resid []float64
	var x []float64
	for round := range 3 {
		var rows [][]float64
		var ys []float64
		resid = resid[:0]
		for i, r := range runs {
			res, _, err := pr.Simulate(r.Setup, 0, uint64(100*round+i))
			if err != nil {
				return err
			}
			n := float64(r.Setup.Nodes)
			known := n*cal.CPU.Apply + res.MsgsPerWrite*cal.CPU.MsgInproc/2 + res.BytesPerWrite*cal.CPU.ByteInproc/2 +
				res.PassesPerWrite*mem.CPUCall + res.EntriesPerWrite*mem.CPUEntry
			y := cal.taskCPU(r)/float64(r.Ops) - known
			// Weighted by the measured CPU per write: relative errors
			// count alike for cheap and expensive runs.
			w := float64(r.Ops) / r.CPU
			share := float64(r.Setup.Conns) / float64(r.Setup.Clients)
			rows = append(rows, []float64{w, share * w, res.PassesPerWrite * w, res.EntriesPerWrite * w})
			ys = append(ys, y*w)
		}
		var err error
		if x, err = nnls(rows, ys); err != nil {
			return err
		}
		cal.CPU.Write, cal.CPU.WritePerConn, cal.CPU.Ready, cal.CPU.Entry = x[0], x[1], x[2], x[3]
		for i, row := range rows {
			var p float64
			for j := range row {
				p += row[j] * x[j]
			}
			resid = append(resid, p-ys[i])
		}
	}
	cal.CPU.Fit = fmt.Sprintf("fitted through the model to %d inproc runs (memory backend, 1 to %d members, 1 to %d clients): "+
		"%.1f us/write + %.1f us/write x connections/clients (the generator's share as measured alone: %.1f us at %d clients on %d connections), %.1f us/pass, %.2f us/entry; residuals of CPU per write %s",
		len(runs), slices.Max(calNodes), calClients[len(calClients)-1][0], x[0]*1e6, x[1]*1e6, cal.CPU.Gen*1e6,
		genClients, genConns, x[2]*1e6, x[3]*1e6, pcts(resid))
	return nil
}

// taskCPU is the CPU of run r the model's tasks must account for: all of
// it, less the collector's marking when the model runs the collector
// itself.
func (c *Calibration) taskCPU(r CalRun) float64 {
	if c.GC != nil && r.GC != nil {
		return r.CPU - r.GC.Mark()
	}
	return r.CPU
}

func pcts(v []float64) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%+.0f%%", 100*x)
	}
	return s + "]"
}

// nnls solves min |A x - y| with x >= 0 by trying every subset of the
// unknowns held at zero, which is exact and cheap for the few unknowns here.
func nnls(a [][]float64, y []float64) ([]float64, error) {
	k := len(a[0])
	var best []float64
	bestErr := math.Inf(1)
	for mask := 1; mask < 1<<k; mask++ {
		var idx []int
		for j := range k {
			if mask&(1<<j) != 0 {
				idx = append(idx, j)
			}
		}
		x, ok := lstsq(a, y, idx, k)
		if !ok || slices.ContainsFunc(x, func(v float64) bool { return v < 0 }) {
			continue
		}
		var sse float64
		for i, row := range a {
			p := 0.0
			for j := range k {
				p += row[j] * x[j]
			}
			sse += (p - y[i]) * (p - y[i])
		}
		if sse < bestErr {
			best, bestErr = x, sse
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: the CPU costs cannot be fitted to the runs", ErrCalibration)
	}
	return best, nil
}

// lstsq solves the normal equations for the columns idx of k; the others
// are 0.
func lstsq(a [][]float64, y []float64, idx []int, k int) ([]float64, bool) {
	n := len(idx)
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n+1)
	}
	for r, row := range a {
		for i := range n {
			for j := range n {
				m[i][j] += row[idx[i]] * row[idx[j]]
			}
			m[i][n] += row[idx[i]] * y[r]
		}
	}
	// Gauss-Jordan elimination with partial pivoting.
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-300 {
			return nil, false
		}
		m[c], m[p] = m[p], m[c]
		for r := range n {
			if r == c {
				continue
			}
			f := m[r][c] / m[c][c]
			for j := c; j <= n; j++ {
				m[r][j] -= f * m[c][j]
			}
		}
	}
	x := make([]float64, k)
	for i := range n {
		x[idx[i]] = m[i][n] / m[i][i]
	}
	return x, true
}
