package plan

// This file is the package's only use of the harness: running one probe
// (plan measure) and one calibration run. Everything else sees the
// Prober and clusterRunner interfaces.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// ProbeSpec is one probe: a cluster under open-loop load at a rate.
type ProbeSpec struct {
	Setup Setup
	// Target settings beyond the Setup: the etcd binary, an external
	// cluster's endpoints, the members' timing.
	EtcdBinary        string
	Endpoints         []string
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration
	KeySpace          int
	Rate              float64
	Warmup            time.Duration
	Duration          time.Duration
	OpTimeout         time.Duration
	Name              string
}

// Prober runs probes; HarnessProber is the real one, tests use fakes.
type Prober interface {
	Probe(ctx context.Context, spec ProbeSpec) (*results.Run, error)
}

// HarnessProber runs each probe with harness.Bench on a fresh cluster.
type HarnessProber struct {
	Backends *logbackends.Registry
	// ServeBinary is the adrbench executable process members run; "" is
	// this program.
	ServeBinary string
}

// Probe implements Prober.
func (h HarnessProber) Probe(ctx context.Context, spec ProbeSpec) (*results.Run, error) {
	b := harness.DefaultBenchConfig()
	b.Name = spec.Name
	s := spec.Setup
	b.Cluster.Target = s.Target
	b.Cluster.Nodes = s.Nodes
	b.Cluster.LogBackend = s.Backend
	b.Cluster.NetDelay, b.Cluster.NetJitter = s.NetDelay, s.NetJitter
	b.Cluster.DiskProfile = s.DiskProfile
	b.Cluster.EtcdBinary = spec.EtcdBinary
	b.Cluster.ServeBinary = h.ServeBinary
	b.Cluster.Endpoints = spec.Endpoints
	if spec.HeartbeatInterval > 0 {
		b.Cluster.HeartbeatInterval, b.Cluster.ElectionTimeout = spec.HeartbeatInterval, spec.ElectionTimeout
	}
	if s.Target == "external" {
		b.Cluster.Nodes = 0
	}
	b.Workload.KeySize, b.Workload.ValSize = s.KeySize, s.ValSize
	if spec.KeySpace > 0 {
		b.Workload.KeySpace = spec.KeySpace
	}
	b.Conns, b.ToLeader = s.Conns, s.ToLeader
	b.Run = harness.RunConfig{Mode: results.ModeOpen, Clients: s.Clients, Rate: spec.Rate,
		Duration: spec.Duration, Warmup: spec.Warmup, OpTimeout: spec.OpTimeout}
	p, hdr, err := harness.Bench(ctx, b, h.Backends)
	if p == nil {
		return nil, err
	}
	return &results.Run{Header: hdr, Points: []results.Point{*p}}, err
}

// probeHost describes this machine for calibration.json.
func probeHost(ctx context.Context, dir string) results.Host { return harness.ProbeHost(ctx, dir) }

// clusterRunner runs the calibration's cluster runs.
type clusterRunner interface {
	// closedRun runs s's clients in closed loop for a warm-up, then for
	// d, and reports what the run and its members did in d.
	closedRun(ctx context.Context, s Setup, warmup, d time.Duration) (CalRun, error)
	// generatorRun measures the generator alone: s on a target whose
	// members run in processes of their own.
	// It also returns the git revision the harness records.
	generatorRun(ctx context.Context, s Setup, warmup, d time.Duration) (CalRun, string, error)
}

type harnessRunner struct {
	backends    *logbackends.Registry
	serveBinary string
}

func (h harnessRunner) clusterConfig(s Setup) harness.ClusterConfig {
	c := harness.DefaultClusterConfig()
	c.Target, c.Nodes, c.LogBackend = s.Target, s.Nodes, s.Backend
	c.NetDelay, c.NetJitter, c.DiskProfile = s.NetDelay, s.NetJitter, s.DiskProfile
	c.ServeBinary = h.serveBinary
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

func (h harnessRunner) closedRun(ctx context.Context, s Setup, warmup, d time.Duration) (_ CalRun, err error) {
	cl, err := harness.StartCluster(ctx, h.clusterConfig(s), h.backends)
	if err != nil {
		return CalRun{}, fmt.Errorf("%w: %s: %w", ErrCalibration, s.Label(), err)
	}
	defer func() { err = errors.Join(err, cl.Close()) }()
	eps := cl.Endpoints()
	conns, err := dialAll(ctx, eps, s.Conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return CalRun{}, err
	}
	wcfg := workloads.DefaultConfig()
	wcfg.KeySize, wcfg.ValSize = s.KeySize, s.ValSize
	wl, err := workloads.New(wcfg)
	if err != nil {
		return CalRun{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	gen := func(id int) harness.Generator { return wl.Worker(id) }
	fresh := liveNow()
	run := harness.RunConfig{Mode: results.ModeClosed, Clients: s.Clients, Duration: warmup, OpTimeout: 30 * time.Second}
	if _, err := harness.Run(ctx, run, gen, conns); err != nil {
		return CalRun{}, err
	}
	lead, err := harness.FindLeader(ctx, eps)
	if err != nil {
		return CalRun{}, err
	}
	before, err := harness.LogStats(ctx, cl)
	if err != nil {
		return CalRun{}, err
	}
	run.Duration = d
	live := liveNow()
	gc0 := readGC()
	res, err := harness.Run(ctx, run, gen, conns)
	if err != nil {
		return CalRun{}, err
	}
	gc1 := readGC()
	gc := gcOver(gc0, gc1)
	gc.LiveFresh, gc.LiveStart, gc.LiveLoaded = fresh, live, gc1.live
	gc.LiveEnd = liveNow()
	if ctx.Err() != nil {
		return CalRun{}, ctx.Err()
	}
	after, err := harness.LogStats(ctx, cl)
	if err != nil {
		return CalRun{}, err
	}
	if res.Errors > 0 {
		return CalRun{}, fmt.Errorf("%w: %s: %d operations failed", ErrCalibration, s.Label(), res.Errors)
	}
	cr := CalRun{Setup: s, Ops: res.Ops, Seconds: res.Elapsed.Seconds(), CPU: res.CPU.Seconds(), Throughput: res.Throughput(), GC: &gc}
	// Leader first, then the followers in member order.
	order := []int{}
	for i, ep := range eps {
		if ep == lead {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	for _, i := range order {
		cr.Saves = append(cr.Saves, after[i].Saves-before[i].Saves)
		cr.Entries = append(cr.Entries, after[i].EntriesSaved-before[i].EntriesSaved)
	}
	return cr, nil
}

func (h harnessRunner) generatorRun(ctx context.Context, s Setup, warmup, d time.Duration) (CalRun, string, error) {
	b := harness.DefaultBenchConfig()
	b.Name = "calibrate-generator"
	b.Cluster = h.clusterConfig(s)
	b.Workload.KeySize, b.Workload.ValSize = s.KeySize, s.ValSize
	b.Conns = s.Conns
	b.Run = harness.RunConfig{Mode: results.ModeClosed, Clients: s.Clients, Duration: d, Warmup: warmup, OpTimeout: 30 * time.Second}
	p, hdr, err := harness.Bench(ctx, b, h.backends)
	if err != nil {
		return CalRun{}, "", fmt.Errorf("%w: %s: %w", ErrCalibration, s.Label(), err)
	}
	if p == nil {
		return CalRun{}, "", fmt.Errorf("%w: %s: no point measured", ErrCalibration, s.Label())
	}
	if p.Errors > 0 || p.Ops == 0 {
		return CalRun{}, "", fmt.Errorf("%w: %s: %d ok, %d failed", ErrCalibration, s.Label(), p.Ops, p.Errors)
	}
	return CalRun{Setup: s, Ops: p.Ops, Seconds: p.DurationS, CPU: p.GeneratorCPUS, ServerCPU: p.ServerCPUS, Throughput: p.Throughput}, hdr.Git, nil
}

// dialAll opens n clients, client i to endpoint i mod len(endpoints), with
// the flow-control windows the harness gives its load connections (fixed,
// so gRPC does not probe bandwidth on every connection).
func dialAll(ctx context.Context, endpoints []string, n int) ([]*clientv3.Client, error) {
	const window = 16 << 20
	var out []*clientv3.Client
	for i := range n {
		c, err := clientv3.New(clientv3.Config{
			Endpoints: []string{endpoints[i%len(endpoints)]}, DialTimeout: 5 * time.Second, Context: ctx,
			Logger:      zap.NewNop(),
			DialOptions: []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window)},
		})
		if err != nil {
			return out, fmt.Errorf("%w: dial %s: %w", ErrCalibration, endpoints[i%len(endpoints)], err)
		}
		out = append(out, c)
	}
	return out, nil
}
