package harness

import (
	"bytes"
	"context"
	"crypto/tls"
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
	"github.com/adrbench/adrbench/logbackends/diskprofile"
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
}

// DefaultBenchConfig is etcd's benchmark shape: 1 client over 1 connection,
// 10k puts of 8-byte keys and 256-byte values to one inproc member, on the
// native disk.
func DefaultBenchConfig() BenchConfig {
	c := BenchConfig{
		Name:     "bench",
		Cluster:  DefaultClusterConfig(),
		Workload: workloads.DefaultConfig(),
		Run:      RunConfig{Mode: results.ModeClosed, Clients: 1, Total: 10000, OpTimeout: 30 * time.Second},
		Conns:    1,
	}
	c.Cluster.DiskProfile = diskprofile.Native
	return c
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

// Point is the point Bench reports for c before anything is measured: the
// configuration it records, so its Key is the key of every point Bench
// measures for c. Real etcd's points name its WAL as their backend, and an
// external cluster's its endpoints as its nodes.
func (c BenchConfig) Point() results.Point {
	p := results.Point{
		Target:      c.Cluster.Target,
		Backend:     c.Cluster.LogBackend,
		Nodes:       c.Cluster.Nodes,
		NetDelayMs:  float64(c.Cluster.NetDelay) / 1e6,
		DiskProfile: c.Cluster.DiskProfile,
		Emulated:    []string{},
		Workload:    c.Workload.Name,
		Mode:        c.Run.Mode,
		Clients:     c.Run.Clients,
		Conns:       c.Conns,
		KeySize:     c.Workload.KeySize,
		ValSize:     c.Workload.ValSize,
		KeySpace:    c.Workload.KeySpace,
		RateOpsS:    c.Run.Rate,
		WarmupS:     c.Run.Warmup.Seconds(),
		TLS:         c.Cluster.TLS,
		// For inproc the generator shares the process with the servers:
		// its CPU time is their sum, and ServerCPUS stays 0.
		CPUShared: c.Cluster.Target == TargetInproc,
	}
	if p.DiskProfile == "" {
		p.DiskProfile = diskprofile.Native
	}
	switch c.Cluster.Target {
	case TargetEtcd:
		p.Backend = results.BackendEtcdWAL
	case TargetExternal:
		p.Backend, p.Nodes = results.BackendExternal, len(c.Cluster.Endpoints)
	}
	return p
}

// Bench starts the cluster, loads it if the workload reads, runs the load
// and returns the point it measured with the header of a run holding it.
// backends opens the inproc members' log backends and says whether the
// inproc and process members' backend is durable (see StartCluster).
// Operation errors are counted in the point; Bench fails only when the
// cluster cannot be started or reached. A point comes back with an error
// when the cluster failed to close after it was measured.
func Bench(ctx context.Context, cfg BenchConfig, backends *logbackends.Registry) (_ *results.Point, _ results.Header, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, results.Header{}, err
	}
	wl, err := workloads.New(cfg.Workload)
	if err != nil {
		return nil, results.Header{}, err
	}
	hdr, err := benchHeader(ctx, cfg)
	if err != nil {
		return nil, results.Header{}, err
	}
	cl, err := StartCluster(ctx, cfg.Cluster, backends)
	if err != nil {
		return nil, results.Header{}, err
	}
	defer func() { err = errors.Join(err, cl.Close()) }()
	conns, err := connect(ctx, cfg, cl)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return nil, results.Header{}, err
	}
	if cfg.Workload.NeedsLoad() {
		if err := wl.Load(ctx, conns, min(64, 4*len(conns))); err != nil {
			return nil, results.Header{}, fmt.Errorf("%w: %w", ErrTarget, err)
		}
	}
	p, err := measure(ctx, cfg, wl, cl, conns, backends)
	if err != nil {
		return nil, results.Header{}, err
	}
	return p, hdr, nil
}

// benchHeader describes the run Bench is about to make: cfg, this host
// and this program's revision, started now.
func benchHeader(ctx context.Context, cfg BenchConfig) (results.Header, error) {
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return results.Header{}, fmt.Errorf("harness: encode config: %w", err)
	}
	return results.Header{
		Schema:  results.SchemaV1,
		Name:    cfg.Name,
		Started: time.Now().UTC(),
		Git:     gitRevision(),
		Host:    ProbeHost(ctx, cfg.Cluster.DataDir),
		Config:  cfgJSON,
	}, nil
}

// connect opens cfg.Conns clients to the cluster's members, or all of them
// to the leader when cfg asks for it. The clients it returns are the
// caller's to close, with an error too.
func connect(ctx context.Context, cfg BenchConfig, cl Cluster) ([]*clientv3.Client, error) {
	endpoints, tc := cl.Endpoints(), ClientTLS(cl)
	if cfg.ToLeader {
		lead, err := FindLeaderTLS(ctx, endpoints, tc)
		if err != nil {
			return nil, err
		}
		endpoints = []string{lead}
	}
	return dial(ctx, endpoints, tc, cfg.Conns, cfg.Cluster.AuthUser, cfg.Cluster.AuthPassword)
}

// measure runs the load of cfg on the started cluster and returns its
// point, with what the members' log backends and processes did meanwhile
// when the target can tell.
func measure(ctx context.Context, cfg BenchConfig, wl *workloads.Workload, cl Cluster, conns []*clientv3.Client, backends *logbackends.Registry) (*results.Point, error) {
	before := snapshotServers(ctx, cl)
	var (
		res   *Result
		watch *WatchResult
		err   error
	)
	if cfg.Workload.Name == workloads.Watch {
		res, watch, err = runWatch(ctx, cfg, wl, conns)
	} else {
		res, err = Run(ctx, cfg.Run, func(id int) Generator { return wl.Worker(id) }, conns)
	}
	if err != nil {
		return nil, err
	}
	p := cfg.Point()
	fillResult(&p, res, wl.Stats())
	if watch != nil {
		fillWatch(&p, res, watch, cfg.Workload.Watchers)
	}
	p.Unsafe = unsafeReason(cfg.Cluster.Target, cfg.Cluster.LogBackend, backends)
	if e, ok := cl.(interface{ Emulated() []string }); ok {
		p.Emulated = append(p.Emulated, e.Emulated()...)
	}
	if fi, ok := cl.(FlushInstructioner); ok {
		p.FlushInstruction = fi.FlushInstruction()
	}
	before.fillSince(ctx, &p, cl, res.Ops+res.Errors)
	return &p, nil
}

// fillResult puts what the runner measured into p.
func fillResult(p *results.Point, res *Result, wl workloads.Stats) {
	p.DurationS = res.Elapsed.Seconds()
	p.Ops, p.Errors, p.ErrorsByCode = res.Ops, res.Errors, res.ErrorsByCode
	p.Throughput = res.Throughput()
	p.LatencyMs = results.LatencyFromHistogram(res.Histogram)
	p.Series, p.Histogram = res.Series, res.Histogram
	p.GeneratorCPUS = res.CPU.Seconds()
	p.TxnConflicts = int64(wl.TxnConflicts)
}

// serverSnapshot is what the members had done before the measured run:
// their log backends' stats and their processes' CPU time, each when the
// target can tell.
type serverSnapshot struct {
	logStats []logbackends.Stats
	logErr   error
	cpu      time.Duration
	cpuErr   error
	cpuer    ServerCPUer // nil when the servers share this process
}

func snapshotServers(ctx context.Context, cl Cluster) serverSnapshot {
	var s serverSnapshot
	s.logStats, s.logErr = readLogStats(ctx, cl)
	if cpuer, ok := cl.(ServerCPUer); ok {
		s.cpuer = cpuer
		s.cpu, s.cpuErr = cpuer.ServerCPU()
	}
	return s
}

// fillSince puts into p what the members did since s was taken, for sent
// operations: the log figures when both readings of the stats succeeded
// and the servers' CPU time when both readings of it did.
func (s serverSnapshot) fillSince(ctx context.Context, p *results.Point, cl Cluster, sent int64) {
	if s.logErr == nil {
		if after, err := readLogStats(ctx, cl); err == nil {
			if d, err := LogStatsDelta(s.logStats, after); err == nil {
				fillLogStats(p, d, sent)
			}
		}
	}
	if s.cpuer != nil && s.cpuErr == nil {
		if cpu, err := s.cpuer.ServerCPU(); err == nil {
			p.ServerCPUS = (cpu - s.cpu).Seconds()
		}
	}
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
// connections spread evenly over the members; over TLS with tc unless it
// is nil; with a user, each logs in as it.
func dial(ctx context.Context, endpoints []string, tc *tls.Config, n int, user, password string) ([]*clientv3.Client, error) {
	timeout := 5 * time.Second
	if user != "" {
		// Logging in is part of the dial, and the server checks the
		// password with bcrypt, tens of milliseconds of CPU each at
		// etcd's cost: a busy member takes a while.
		timeout = 30 * time.Second
	}
	var conns []*clientv3.Client
	for i := range n {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{endpoints[i%len(endpoints)]},
			TLS:         tc,
			DialTimeout: timeout,
			Context:     ctx,
			// Retries while a member starts are expected; the client's
			// own warnings about them would only garble the output.
			Logger:      zap.NewNop(),
			DialOptions: loadDialOptions(),
			Username:    user,
			Password:    password,
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
