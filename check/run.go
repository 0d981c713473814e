package check

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
)

// Files of the run directory.
const (
	reportFile        = "report.json"
	historyFile       = "history.json"
	visualizationFile = "visualization.html"
)

// Run starts the cluster, runs the clients for cfg.Duration while the
// faults are injected, heals everything, checks that every member is
// healthy and keeps every acknowledged write, checks the history for
// linearizability, and writes the run directory. backends removes what the
// process target's log backends keep outside the data directories (nil
// for etcd). An error means the check could not run; what it found is in
// the report (Report.Passed).
func Run(ctx context.Context, cfg Config, backends *logbackends.Registry) (_ *Report, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ccfg := cfg.Cluster
	ccfg.PeerCuts = true
	ccfg.DiskStalls = slices.ContainsFunc(cfg.Faults, stalls)
	progress(cfg, "starting %d %s members", ccfg.Nodes, ccfg.Target)
	cl, err := harness.StartCluster(ctx, ccfg, backends)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCluster, err)
	}
	defer func() {
		if cerr := cl.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("%w: close: %w", ErrCluster, cerr))
		}
	}()
	fc, ok := cl.(faultCluster)
	if !ok {
		return nil, fmt.Errorf("%w: target %s cannot pause, cut or wait for its members", ErrCluster, ccfg.Target)
	}
	r := &Report{
		Schema: ReportSchema, Started: time.Now().UTC(), Target: ccfg.Target, Nodes: ccfg.Nodes,
		Faults: cfg.Faults, Duration: cfg.Duration.Seconds(), Seed: cfg.Seed,
		Clients: cfg.Clients, Keys: cfg.Keys, ServeFlags: ccfg.ServeFlags, Dir: cfg.Out,
	}
	if ccfg.Target == harness.TargetProcess {
		r.Backend = ccfg.LogBackend
	}
	ops, err := runPhases(ctx, cfg, fc, r)
	if err != nil {
		return nil, err
	}
	checkHistory(cfg, ops, r)
	if err := writeRunDir(cfg.Out, r, ops); err != nil {
		return r, err
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	return r, nil
}

// runPhases runs the clients and the faults, then the checks after them,
// and returns the history.
func runPhases(ctx context.Context, cfg Config, cl faultCluster, r *Report) ([]Op, error) {
	eps := cl.Endpoints()
	clients := func(n int, ep func(i int) string) ([]*clientv3.Client, error) {
		var out []*clientv3.Client
		for i := range n {
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep(i)}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				closeAll(out)
				return nil, fmt.Errorf("%w: client of %s: %w", ErrCluster, ep(i), err)
			}
			out = append(out, cli)
		}
		return out, nil
	}
	workerClis, err := clients(cfg.Clients, func(i int) string { return eps[i%len(eps)] })
	if err != nil {
		return nil, err
	}
	defer closeAll(workerClis)
	memberClis, err := clients(len(eps), func(i int) string { return eps[i] })
	if err != nil {
		return nil, err
	}
	defer closeAll(memberClis)

	start := time.Now()
	nem := &nemesis{
		cl: cl, cfg: cfg, start: start, progress: cfg.Progress,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0)),
	}
	if s, ok := cl.(harness.DiskStaller); ok && slices.ContainsFunc(cfg.Faults, stalls) {
		nem.stall = s
	}
	workers := make([]*worker, cfg.Clients)
	for i := range workers {
		workers[i] = newWorker(i, i%len(eps), workerClis[i], cfg, start)
	}
	progress(cfg, "running %d clients for %v under %v", cfg.Clients, cfg.Duration, cfg.Faults)
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(rctx) })
	}
	wg.Go(func() { nem.run(rctx) })
	wg.Wait()
	cancel()
	r.FaultEvents = nem.Events()

	var ops []Op
	for _, w := range workers {
		ops = append(ops, w.ops...)
	}
	slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })

	unhealthy := func(err error) ([]Op, error) {
		r.HealthError = err.Error()
		r.Acked = AckedCheck{Writes: countWrites(ops), Members: len(eps), Error: "members not healthy"}
		return ops, nil
	}
	if ctx.Err() != nil {
		return unhealthy(fmt.Errorf("%w before the checks after the faults", ErrInterrupted))
	}
	progress(cfg, "waiting for every member to be healthy")
	hctx, hcancel := context.WithTimeout(ctx, cfg.Recover)
	defer hcancel()
	if err := waitMembersHealthy(hctx, memberClis, eps); err != nil {
		return unhealthy(err)
	}
	final, err := finalReads(hctx, memberClis, cfg.Keys, start, nextClient(ops))
	ops = append(ops, final...)
	if err != nil {
		return unhealthy(err)
	}
	r.Healthy = true
	progress(cfg, "reading every acknowledged write back from every member")
	r.Acked = checkAcked(hctx, memberClis, ops)
	return ops, nil
}

// nextClient is a logical client number no op in ops has.
func nextClient(ops []Op) int {
	n := 0
	for _, o := range ops {
		n = max(n, o.Client+1)
	}
	return n
}

func countWrites(ops []Op) int {
	n := 0
	for _, o := range ops {
		if o.wrote() {
			n++
		}
	}
	return n
}

func closeAll(clis []*clientv3.Client) {
	for _, c := range clis {
		c.Close()
	}
}

// checkHistory checks ops with porcupine and, on a violation, keeps the
// visualization in the run directory.
func checkHistory(cfg Config, ops []Op, r *Report) {
	r.Ops = countOps(ops)
	progress(cfg, "checking %d operations", len(ops))
	model := kvModel()
	history := porcupineHistory(ops)
	t0 := time.Now()
	res := porcupine.CheckOperationsTimeout(model, history, cfg.CheckTimeout)
	r.CheckSeconds = time.Since(t0).Seconds()
	switch res {
	case porcupine.Ok:
		r.Verdict = VerdictLinearizable
		return
	case porcupine.Unknown:
		r.Verdict = VerdictUnknown
		return
	}
	r.Verdict = VerdictViolation
	// Again, keeping what the visualization needs.
	_, info := porcupine.CheckOperationsVerbose(model, history, cfg.CheckTimeout)
	var notes []porcupine.Annotation
	for _, e := range r.FaultEvents {
		notes = append(notes, porcupine.Annotation{
			Tag:         "faults",
			Start:       int64(e.Start * 1e9),
			End:         int64(e.End * 1e9),
			Description: e.Fault,
			Details:     e.Detail,
		})
	}
	info.AddAnnotations(notes)
	path := filepath.Join(cfg.Out, visualizationFile)
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		r.Visualization = "not written: " + err.Error()
		return
	}
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		r.Visualization = "not written: " + err.Error()
		return
	}
	r.Visualization = path
}

// writeRunDir writes the report and the history.
func writeRunDir(dir string, r *Report, ops []Op) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	r.History = filepath.Join(dir, historyFile)
	write := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	if err := errors.Join(write(historyFile, ops), write(reportFile, r)); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return nil
}

func progress(cfg Config, format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, format+"\n", args...)
	}
}
