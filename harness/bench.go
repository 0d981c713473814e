package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// BenchConfig is one benchmark point: a cluster, a workload and a load.
type BenchConfig struct {
	Name     string           `yaml:"name" json:"name"`
	Cluster  ClusterConfig    `yaml:"cluster" json:"cluster"`
	Workload workloads.Config `yaml:"workload" json:"workload"`
	Run      RunConfig        `yaml:"run" json:"run"`
	// Conns is the number of client connections (clientv3 clients); the
	// Run's clients are assigned to them round-robin, and they to the
	// endpoints round-robin.
	Conns int `yaml:"conns" json:"conns"`
	// ToLeader sends every request to the leader, as etcd's op guide
	// does for its "to the leader" figures.
	ToLeader bool `yaml:"to_leader" json:"to_leader"`
	// DiskProfile is recorded in the point; "native" means no injected
	// disk latency.
	DiskProfile string `yaml:"disk_profile" json:"disk_profile"`
}

// DefaultBenchConfig is etcd's benchmark shape: 1 client over 1 connection,
// 10k puts of 8-byte keys and 256-byte values to one inproc member.
func DefaultBenchConfig() BenchConfig {
	return BenchConfig{
		Name:        "bench",
		Cluster:     DefaultClusterConfig(),
		Workload:    workloads.DefaultConfig(),
		Run:         RunConfig{Mode: results.ModeClosed, Clients: 1, Total: 10000, OpTimeout: 30 * time.Second},
		Conns:       1,
		DiskProfile: "native",
	}
}

// Validate names the first bad field of c.
func (c BenchConfig) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: name is empty", ErrConfig)
	}
	if c.Conns < 1 || c.Conns > c.Run.Clients {
		return fmt.Errorf("%w: conns %d not in 1..clients (%d)", ErrConfig, c.Conns, c.Run.Clients)
	}
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	if err := c.Workload.Validate(); err != nil {
		return err
	}
	return c.Run.Validate()
}

// Bench starts the cluster, loads it if the workload reads, runs the load
// and returns a run with one point. backends opens the inproc members' log
// backends and says whether the inproc and process members' backend is
// durable (see StartCluster).
// Operation errors are counted in the point; Bench fails only when the
// cluster cannot be started or reached.
func Bench(ctx context.Context, cfg BenchConfig, backends *logbackends.Registry) (_ *results.Run, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	wl, err := workloads.New(cfg.Workload)
	if err != nil {
		return nil, err
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("harness: encode config: %w", err)
	}
	started := time.Now().UTC()
	host := ProbeHost(ctx, cfg.Cluster.DataDir)

	cl, err := StartCluster(ctx, cfg.Cluster, backends)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, cl.Close()) }()
	endpoints := cl.Endpoints()
	if cfg.ToLeader {
		lead, err := FindLeader(ctx, endpoints)
		if err != nil {
			return nil, err
		}
		endpoints = []string{lead}
	}
	conns, err := dial(ctx, endpoints, cfg.Conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	if cfg.Workload.NeedsLoad() {
		if err := wl.Load(ctx, conns, min(64, 4*len(conns))); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
	}

	stats0, statsErr := readLogStats(ctx, cl)
	cpuer, hasCPU := cl.(ServerCPUer)
	var srv0 time.Duration
	if hasCPU {
		if srv0, err = cpuer.ServerCPU(); err != nil {
			hasCPU = false
		}
	}
	var (
		res   *Result
		watch *WatchResult
	)
	if cfg.Workload.Name == workloads.Watch {
		res, watch, err = runWatch(ctx, cfg, wl, conns)
	} else {
		res, err = Run(ctx, cfg.Run, func(id int) Generator { return wl.Worker(id) }, conns)
	}
	if err != nil {
		return nil, err
	}
	sent := res.Ops + res.Errors
	p := results.Point{
		Target:       cfg.Cluster.Target,
		Backend:      cfg.Cluster.LogBackend,
		Nodes:        cfg.Cluster.Nodes,
		NetDelayMs:   float64(cfg.Cluster.NetDelay) / 1e6,
		DiskProfile:  cfg.DiskProfile,
		Emulated:     []string{},
		Workload:     cfg.Workload.Name,
		Mode:         res.Mode,
		Clients:      cfg.Run.Clients,
		Conns:        cfg.Conns,
		KeySize:      cfg.Workload.KeySize,
		ValSize:      cfg.Workload.ValSize,
		KeySpace:     cfg.Workload.KeySpace,
		DurationS:    res.Elapsed.Seconds(),
		Ops:          res.Ops,
		Errors:       res.Errors,
		Throughput:   res.Throughput(),
		LatencyMs:    results.LatencyFromHistogram(res.Histogram),
		RateOpsS:     cfg.Run.Rate,
		WarmupS:      cfg.Run.Warmup.Seconds(),
		ErrorsByCode: res.ErrorsByCode,
		Series:       res.Series,
		Histogram:    res.Histogram,
		// For inproc the generator shares the process with the servers:
		// this is their sum, and ServerCPUS stays 0.
		GeneratorCPUS: res.CPU.Seconds(),
		CPUShared:     cfg.Cluster.Target == TargetInproc,
		TxnConflicts:  int64(wl.Stats().TxnConflicts),
	}
	if watch != nil {
		fillWatch(&p, res, watch, cfg.Workload.Watchers)
	}
	switch cfg.Cluster.Target {
	case TargetEtcd:
		p.Backend = results.BackendEtcdWAL
	case TargetExternal:
		p.Backend, p.Nodes = results.BackendExternal, len(cfg.Cluster.Endpoints)
	}
	p.Unsafe = unsafeReason(cfg.Cluster.Target, cfg.Cluster.LogBackend, backends)
	if e, ok := cl.(interface{ Emulated() []string }); ok {
		p.Emulated = append(p.Emulated, e.Emulated()...)
	}
	if fi, ok := cl.(FlushInstructioner); ok {
		p.FlushInstruction = fi.FlushInstruction()
	}
	if statsErr == nil {
		if stats1, err := readLogStats(ctx, cl); err == nil {
			if d, err := LogStatsDelta(stats0, stats1); err == nil {
				fillLogStats(&p, d, sent)
			}
		}
	}
	if hasCPU {
		if srv1, err := cpuer.ServerCPU(); err == nil {
			p.ServerCPUS = (srv1 - srv0).Seconds()
		}
	}
	return &results.Run{
		Schema:  results.SchemaV1,
		Name:    cfg.Name,
		Started: started,
		Git:     gitRevision(),
		Host:    host,
		Config:  cfgJSON,
		Points:  []results.Point{p},
	}, nil
}

// readLogStats reads the members' log-backend stats within
// logStatsTimeout, even after ctx is done, so a run stopped by a signal
// still records what its backends did.
func readLogStats(ctx context.Context, cl Cluster) ([]logbackends.Stats, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logStatsTimeout)
	defer cancel()
	return LogStats(sctx, cl)
}

// runWatch runs the watch workload: the watchers first, then the writers
// through the runner, then the fence that tells the watchers they are done.
func runWatch(ctx context.Context, cfg BenchConfig, wl *workloads.Workload, conns []*clientv3.Client) (*Result, *WatchResult, error) {
	fan, err := StartWatchFanout(ctx, wl, conns, cfg.Workload.Watchers)
	if err != nil {
		return nil, nil, err
	}
	fan.Measure(ctx, cfg.Run, time.Now().Add(cfg.Run.Warmup))
	res, err := Run(ctx, cfg.Run, func(id int) Generator { return wl.Worker(id) }, conns)
	if err != nil {
		_, ferr := fan.Finish(ctx, conns[0])
		return nil, nil, errors.Join(err, ferr)
	}
	watch, err := fan.Finish(ctx, conns[0])
	if err != nil {
		return nil, nil, err
	}
	return res, watch, nil
}

// fillWatch makes p a watch point: deliveries are its operations, missed
// and duplicated events join the failed puts among its errors, and the
// puts' own figures move to the watch fields.
func fillWatch(p *results.Point, puts *Result, w *WatchResult, watchers int) {
	write := results.LatencyFromHistogram(puts.Histogram)
	p.Watchers, p.WatchPuts, p.WriteLatencyMs = watchers, puts.Ops, &write
	p.WatchMissed, p.WatchDuplicated = w.Missed, w.Duplicate
	p.Histogram = w.Histogram
	p.Ops = w.Histogram.TotalCount()
	p.LatencyMs = results.LatencyFromHistogram(w.Histogram)
	p.Series = w.Series
	p.Throughput = 0
	if w.Elapsed > 0 {
		p.Throughput = float64(p.Ops) / w.Elapsed.Seconds()
	}
	p.Errors = puts.Errors + w.Errors()
	codes := map[string]int64{}
	for c, n := range puts.ErrorsByCode {
		codes[c] += n
	}
	for c, n := range w.ErrorsByCode() {
		codes[c] += n
	}
	p.ErrorsByCode = codes
}

// dial opens n clients, client i to endpoint i mod len(endpoints), so the
// connections spread evenly over the members.
func dial(ctx context.Context, endpoints []string, n int) ([]*clientv3.Client, error) {
	var conns []*clientv3.Client
	for i := range n {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{endpoints[i%len(endpoints)]},
			DialTimeout: 5 * time.Second,
			Context:     ctx,
			// Retries while a member starts are expected; the client's
			// own warnings about them would only garble the output.
			Logger:      zap.NewNop(),
			DialOptions: loadDialOptions(),
		})
		if err != nil {
			return conns, fmt.Errorf("%w: dial %s: %w", ErrTarget, endpoints[i%len(endpoints)], err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// gitRevision is the VCS revision stamped into the binary, "" when the
// build did not record one.
func gitRevision() string {
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		// go run and builds with -buildvcs=false carry no revision; ask
		// git about the working directory, which is the checkout when
		// the README's commands are followed.
		rev, dirty = gitWorkingRevision()
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// gitWorkingRevision returns HEAD of the git checkout holding the working
// directory and whether tracked files differ from it; "" when there is no
// git or no checkout.
func gitWorkingRevision() (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(status)) > 0
}
