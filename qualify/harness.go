package qualify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/store"
	"github.com/adrbench/adrbench/workloads"
)

// Everything qualification asks of the harness is here: a one-member
// cluster and an open-loop run per end-to-end tier, one benchmark point
// for the CPU's write capacity, and the host probe.

// checkPerfWorkload is etcdctl check perf's put: 256-byte random keys,
// 1 KiB values.
func checkPerfWorkload() workloads.Config {
	w := workloads.DefaultConfig()
	w.Name, w.KeySize, w.ValSize, w.KeySpace = workloads.Put, 256, 1024, 10_000_000
	return w
}

// tierGrace is how long a tier may run past its end to finish the puts
// that were due before it: a put still unfinished then is at least this
// late, past check perf's slowest bound of 500 ms, so cutting it off
// changes no verdict and keeps an overloaded tier from running for
// minutes on its backlog.
func tierGrace(c E2ECriteria) time.Duration {
	return max(3*time.Second, 6*time.Duration(c.MaxSlowestMs*float64(time.Millisecond)))
}

// tierRun is what one tier measured.
type tierRun struct {
	res *harness.Result
	// cut says the run was stopped tierGrace after its end with puts
	// still due: the server fell behind.
	cut bool
}

// runTier starts a fresh one-member cluster whose data lives in dataDir,
// drives it open-loop at the tier's rate over one connection per client,
// as check perf does, and stops it.
func (r *runner) runTier(ctx context.Context, t Tier, dataDir string) (_ tierRun, err error) {
	cc := harness.DefaultClusterConfig()
	cc.Target = r.cfg.E2ETarget
	cc.Nodes = 1
	cc.LogBackend = r.cfg.LogBackend
	cc.DataDir = dataDir
	cc.ServeBinary = r.cfg.ServeBinary
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return tierRun{}, err
	}
	cl, err := harness.StartCluster(ctx, cc, r.cfg.Backends)
	if err != nil {
		return tierRun{}, errors.Join(err, removeMemberRegions(dataDir))
	}
	defer func() { err = errors.Join(err, cl.Close(), removeMemberRegions(dataDir)) }()
	wl, err := workloads.New(checkPerfWorkload())
	if err != nil {
		return tierRun{}, err
	}
	conns, err := dialClients(ctx, cl.Endpoints()[0], t.Clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return tierRun{}, err
	}
	rc := harness.RunConfig{
		Mode: results.ModeOpen, Clients: t.Clients, Rate: t.Rate,
		Duration: r.dur.E2ETier, Warmup: r.dur.E2EWarmup,
		// A put that takes far longer than check perf's slowest bound
		// is an error, not a latency.
		OpTimeout: 10 * time.Second,
	}
	rctx, cancel := context.WithTimeout(ctx, rc.Warmup+rc.Duration+tierGrace(r.prof.E2E))
	defer cancel()
	res, err := harness.Run(rctx, rc, func(id int) harness.Generator { return wl.Worker(id) }, conns)
	if err != nil {
		return tierRun{}, err
	}
	return tierRun{res: res, cut: rctx.Err() != nil && ctx.Err() == nil}, nil
}

// dialClients opens n clients to endpoint; like check perf, every
// simulated client has its own connection.
func dialClients(ctx context.Context, endpoint string, n int) ([]*clientv3.Client, error) {
	var conns []*clientv3.Client
	for range n {
		c, err := clientv3.New(clientv3.Config{
			Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop(),
		})
		if err != nil {
			return conns, fmt.Errorf("dial %s: %w", endpoint, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// measureCapacity runs a one-member inproc store on the memory backend
// closed-loop, so the CPU is what limits it, and reads the CPU the process
// used: writes per CPU-second, server and client together.
func (r *runner) measureCapacity(ctx context.Context) (capacity, error) {
	bc := harness.DefaultBenchConfig()
	bc.Name = "qualify-cpu"
	bc.Cluster.Target = harness.TargetInproc
	bc.Cluster.LogBackend = memory.Name
	bc.Workload = checkPerfWorkload()
	const clients = 64
	bc.Run = harness.RunConfig{Mode: results.ModeClosed, Clients: clients, Duration: r.dur.CPU,
		Warmup: min(time.Second, r.dur.CPU/4), OpTimeout: 10 * time.Second}
	bc.Conns = 8
	p, _, err := harness.Bench(ctx, bc, r.cfg.Backends)
	if err != nil {
		return capacity{}, err
	}
	if p == nil || p.Ops == 0 {
		if p == nil {
			return capacity{}, errors.New("no point measured")
		}
		return capacity{}, fmt.Errorf("no write succeeded (%d errors)", p.Errors)
	}
	return capacity{ops: p.Ops, seconds: p.DurationS, cpuS: p.GeneratorCPUS, throughput: p.Throughput, clients: clients}, nil
}

// removeMemberRegions removes what the log backends of the members under
// root keep outside root (an adr member's emulated region on tmpfs would
// otherwise hold its memory until the machine restarts), and the members'
// data. The backend a member ran is not recorded there, so every backend
// of the binary's catalog, at its default settings as qualification runs
// them, destroys what it would have kept.
func removeMemberRegions(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil // nothing was started
	}
	backends := catalog.DefaultConfigs().Registry()
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, name := range backends.Names() {
			errs = append(errs, store.RemoveDataDir(backends, name, filepath.Join(root, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// probeHost describes the machine and the file system dir is on.
func probeHost(ctx context.Context, dir string) results.Host {
	return harness.ProbeHost(ctx, dir)
}
