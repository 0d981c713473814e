package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// errBenchFlags marks a bad combination of bench flags.
var errBenchFlags = errors.New("bad flags")

// benchOptions are the flags of `adrbench bench` (the contract in
// docs/architecture.md, "Command line").
type benchOptions struct {
	name         string
	target       string
	nodes        int
	logBackend   string
	endpoints    string
	tls          bool
	cacert       string
	cert         string
	key          string
	user         string
	etcdBinary   string
	dataDir      string
	workload     string
	mix          string
	distribution string
	consistency  string
	clients      int
	conns        int
	total        int64
	duration     time.Duration
	warmup       time.Duration
	rate         float64
	keySize      int
	valSize      int
	keySpace     int
	txnKeys      int
	watchers     int
	leaseTTL     time.Duration
	leaseRevoke  float64
	seed         uint64
	netDelay     time.Duration
	netJitter    time.Duration
	netLoss      float64
	diskProfile  string
	heartbeatMs  uint
	electionMs   uint
	opTimeout    time.Duration
	toLeader     bool
	out          string

	backendNames []string
	cfg          harness.BenchConfig // resolved by Validate
}

// AddFlags binds the flags. A flag whose help ends with targets in
// parentheses is used by those targets only (the others ignore it or, for
// injected latency, refuse it); every other flag applies to all targets.
func (o *benchOptions) AddFlags(fs *pflag.FlagSet) {
	d := harness.DefaultBenchConfig()
	fs.StringVar(&o.name, "name", "", `run name (default "bench-<workload>")`)
	fs.StringVar(&o.target, "target", d.Cluster.Target, "cluster to drive: "+strings.Join(harness.Targets(), ", "))
	fs.IntVar(&o.nodes, "nodes", d.Cluster.Nodes, "members to start (inproc, process, etcd)")
	fs.StringVar(&o.logBackend, "log-backend", d.Cluster.LogBackend, "raft log storage of the members: "+strings.Join(o.backendNames, ", ")+" (inproc, process)")
	fs.StringVar(&o.endpoints, "endpoints", "", "comma-separated client URLs of the cluster (external)")
	fs.BoolVar(&o.tls, "tls", false, "start the members with client and peer TLS, certificates made by the harness, and drive them over TLS (process, etcd); reach the endpoints over TLS with --cacert (external)")
	fs.StringVar(&o.cacert, "cacert", "", "CA bundle that verifies the members' certificates, as etcdctl's --cacert; turns --tls on (external)")
	fs.StringVar(&o.cert, "cert", "", "client certificate to present, as etcdctl's --cert (external)")
	fs.StringVar(&o.key, "key", "", "key of --cert, as etcdctl's --key (external)")
	fs.StringVar(&o.user, "user", "", "user:password the clients log in with, as etcdctl's --user; a cluster the harness starts gets authentication enabled with it, and the user must be root")
	fs.StringVar(&o.etcdBinary, "etcd-binary", "etcd", "etcd executable to start (etcd)")
	fs.StringVar(&o.dataDir, "data-dir", "", "where members keep their data (default: a temporary directory, removed afterwards) (inproc, process, etcd)")
	fs.StringVar(&o.workload, "workload", d.Workload.Name, "workload: "+strings.Join(workloads.Names(), ", "))
	fs.StringVar(&o.mix, "mix", "", `operation weights for --workload mixed, e.g. "read=90,update=10" (read, update, insert, scan, rmw, delete, txn)`)
	fs.StringVar(&o.distribution, "distribution", "", "key distribution: "+strings.Join(workloads.Distributions(), ", ")+" (default: the workload's own)")
	fs.StringVar(&o.consistency, "consistency", "l", "read consistency: l (linearizable) or s (serializable)")
	fs.IntVar(&o.clients, "clients", d.Run.Clients, "concurrent clients")
	fs.IntVar(&o.conns, "conns", d.Conns, "client connections the clients share")
	fs.Int64Var(&o.total, "total", 0, "measured operations to run (default 10000 when --duration is not given)")
	fs.DurationVar(&o.duration, "duration", 0, "how long to measure, instead of --total")
	fs.DurationVar(&o.warmup, "warmup", 0, "run this long before measuring")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: operations per second, due whatever the responses do (0: closed loop)")
	fs.IntVar(&o.keySize, "key-size", d.Workload.KeySize, "key size in bytes")
	fs.IntVar(&o.valSize, "val-size", d.Workload.ValSize, "value size in bytes")
	fs.IntVar(&o.keySpace, "key-space", d.Workload.KeySpace, "distinct keys")
	fs.IntVar(&o.txnKeys, "txn-keys", d.Workload.TxnKeys, "keys the txn workload's compare-and-swaps contend on")
	fs.IntVar(&o.watchers, "watchers", d.Workload.Watchers, "watches the watch workload opens on its key range, over the connections")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", d.Workload.LeaseTTL, "TTL of the lease workload's leases (whole seconds)")
	fs.Float64Var(&o.leaseRevoke, "lease-revoke", d.Workload.LeaseRevoke, "share of the lease workload's leases revoked; the rest expire")
	fs.Uint64Var(&o.seed, "seed", d.Workload.Seed, "seed of the workers' random streams")
	fs.DurationVar(&o.netDelay, "net-delay", 0, "one-way delay injected on every peer link, in each direction: by the in-process network, or by a TCP proxy in front of each member's peer port (inproc, process, etcd)")
	fs.DurationVar(&o.netJitter, "net-jitter", 0, "jitter added to --net-delay (inproc, process, etcd)")
	fs.Float64Var(&o.netLoss, "net-loss", 0, "probability a peer message is lost (inproc)")
	fs.StringVar(&o.diskProfile, "disk-profile", d.Cluster.DiskProfile, "emulated disk whose sync latency is added to every log sync: "+strings.Join(diskprofile.Names(), ", ")+` ("native" adds none) (inproc, process)`)
	fs.UintVar(&o.heartbeatMs, "heartbeat-interval", uint(d.Cluster.HeartbeatInterval/time.Millisecond), "members' heartbeat interval in milliseconds (inproc, process, etcd)")
	fs.UintVar(&o.electionMs, "election-timeout", uint(d.Cluster.ElectionTimeout/time.Millisecond), "members' election timeout in milliseconds (inproc, process, etcd)")
	fs.DurationVar(&o.opTimeout, "op-timeout", d.Run.OpTimeout, "time limit of one operation (0: none)")
	fs.BoolVar(&o.toLeader, "to-leader", false, "send every request to the leader")
	fs.StringVar(&o.out, "out", "", `run directory to write (default "results/runs/<UTC time>-<name>")`)
}

// errFlag is the error of a bad flag, named first.
func errFlag(flag, format string, args ...any) error {
	return fmt.Errorf("--%s: %w: %s", flag, errBenchFlags, fmt.Sprintf(format, args...))
}

// Validate resolves the flags into a harness.BenchConfig and checks it.
func (o *benchOptions) Validate(now time.Time) error {
	c := harness.DefaultBenchConfig()
	var err error
	if c.Cluster, err = o.clusterConfig(c.Cluster); err != nil {
		return err
	}
	if c.Workload, err = o.workloadConfig(c.Workload); err != nil {
		return err
	}
	if c.Run, err = o.runConfig(c.Run); err != nil {
		return err
	}
	c.Conns = o.conns
	c.ToLeader = o.toLeader
	c.Name = o.name
	if c.Name == "" {
		c.Name = "bench-" + o.workload
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join("results", "runs", results.DirName(now, c.Name))
	}
	if _, err := os.Stat(filepath.Join(o.out, results.RunFile)); err == nil {
		return errFlag("out", "%s already holds a run", o.out)
	}
	o.cfg = c
	return nil
}

// clusterConfig is c with the cluster flags applied: which cluster, its
// members' backend, disk and timing, and the latency injected between them.
func (o *benchOptions) clusterConfig(c harness.ClusterConfig) (harness.ClusterConfig, error) {
	c.Target = o.target
	c.Nodes = o.nodes
	c.LogBackend = o.logBackend
	if o.endpoints != "" {
		for _, ep := range strings.Split(o.endpoints, ",") {
			if ep = strings.TrimSpace(ep); ep != "" {
				c.Endpoints = append(c.Endpoints, ep)
			}
		}
	}
	c.TLS = o.tls || o.cacert != ""
	c.CACert, c.Cert, c.Key = o.cacert, o.cert, o.key
	if o.user != "" {
		user, password, ok := strings.Cut(o.user, ":")
		if !ok || user == "" || password == "" {
			return c, fmt.Errorf("--user: %w: %q is not user:password", errBenchFlags, o.user)
		}
		c.AuthUser, c.AuthPassword = user, password
	}
	c.EtcdBinary = o.etcdBinary
	c.DataDir = o.dataDir
	c.NetDelay, c.NetJitter, c.NetLoss = o.netDelay, o.netJitter, o.netLoss
	c.HeartbeatInterval = time.Duration(o.heartbeatMs) * time.Millisecond
	c.ElectionTimeout = time.Duration(o.electionMs) * time.Millisecond
	// Process members are this binary's `serve`, with the same backends.
	if (o.target == harness.TargetInproc || o.target == harness.TargetProcess) && !slices.Contains(o.backendNames, o.logBackend) {
		return c, fmt.Errorf("--log-backend: %w %q (known: %s)", logbackends.ErrUnknownBackend, o.logBackend, strings.Join(o.backendNames, ", "))
	}
	if _, err := diskprofile.Lookup(o.diskProfile); err != nil {
		return c, errFlag("disk-profile", "%v", err)
	}
	c.DiskProfile = o.diskProfile
	return c, nil
}

// workloadConfig is w with the workload flags applied.
func (o *benchOptions) workloadConfig(w workloads.Config) (workloads.Config, error) {
	w.Name = o.workload
	w.KeySize, w.ValSize, w.KeySpace = o.keySize, o.valSize, o.keySpace
	w.Distribution = o.distribution
	w.TxnKeys = min(o.txnKeys, max(o.keySpace, 1))
	w.Seed = o.seed
	w.Watchers = o.watchers
	w.LeaseTTL, w.LeaseRevoke = o.leaseTTL, o.leaseRevoke
	if o.leaseTTL%time.Second != 0 {
		return w, errFlag("lease-ttl", "%v is not whole seconds (etcd grants TTLs in seconds)", o.leaseTTL)
	}
	switch o.consistency {
	case "l":
	case "s":
		w.Serializable = true
	default:
		return w, errFlag("consistency", "%q is not l or s", o.consistency)
	}
	switch {
	case o.mix != "" && o.workload != workloads.Mixed:
		return w, errFlag("mix", "only for --workload mixed")
	case o.mix == "" && o.workload == workloads.Mixed:
		return w, errFlag("mix", "--workload mixed needs --mix")
	case o.mix != "":
		m, err := workloads.ParseMix(o.mix)
		if err != nil {
			return w, fmt.Errorf("--mix: %w", err)
		}
		w.Mix = m
	}
	return w, nil
}

// runConfig is r with the load flags applied: clients, how long, which
// loop.
func (o *benchOptions) runConfig(r harness.RunConfig) (harness.RunConfig, error) {
	switch {
	case o.total != 0 && o.duration != 0:
		return r, errFlag("total", "give --total or --duration, not both")
	case o.total < 0:
		return r, errFlag("total", "%d is negative", o.total)
	case o.duration < 0:
		return r, errFlag("duration", "%v is negative", o.duration)
	case o.rate < 0:
		return r, errFlag("rate", "%v is negative", o.rate)
	}
	r.Clients = o.clients
	r.Total, r.Duration, r.Warmup = o.total, o.duration, o.warmup
	if o.total == 0 && o.duration == 0 {
		r.Total = 10000
	}
	if o.rate > 0 {
		r.Mode, r.Rate = results.ModeOpen, o.rate
	}
	r.OpTimeout = o.opTimeout
	return r, nil
}

func newBenchCmd(backends *logbackends.Registry) *cobra.Command {
	o := &benchOptions{backendNames: backends.Names()}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a cluster with one workload and record one measured point",
		Long: "Start (or reach) a cluster, run one workload against it through the etcd v3\n" +
			"client, print an etcd-benchmark-like summary and write a run directory\n" +
			"(run.json, points.csv, .hgrm histograms). Without --rate the load is closed\n" +
			"loop; with --rate it is open loop, measured from each operation's intended\n" +
			"send time. SIGINT stops the run early and still writes what was measured.\n\n" +
			"A flag whose help ends with targets in parentheses is for those targets\n" +
			"only; the other flags apply to every target.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(time.Now()); err != nil {
				return err
			}
			return o.run(cmd, backends)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (o *benchOptions) run(cmd *cobra.Command, backends *logbackends.Registry) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := o.cfg
	if isTerminal(cmd.ErrOrStderr()) {
		cfg.Run.Progress = cmd.ErrOrStderr()
	}
	restoreGC := tuneGeneratorGC(cfg.Cluster.Target)
	p, hdr, err := harness.Bench(ctx, cfg, backends)
	restoreGC()
	if p == nil {
		return err
	}
	if werr := results.Write(o.out, &results.Run{Header: hdr, Points: []results.Point{*p}}); werr != nil {
		return errors.Join(err, werr)
	}
	printSummary(cmd.OutOrStdout(), p)
	fmt.Fprintf(cmd.OutOrStdout(), "\nRun written to %s\n", o.out)
	if err == nil && ctx.Err() != nil && cmd.Context().Err() == nil {
		fmt.Fprintln(cmd.OutOrStdout(), "(stopped early by a signal)")
	}
	return err
}

// isTerminal reports whether w is a character device, so progress lines are
// drawn on a terminal and never in pipes or files.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printSummary prints a point the way etcd's benchmark tool does, plus the
// lines it lacks: the mode, errors by code, what the log backends did and
// the CPU spent.
func printSummary(w io.Writer, p *results.Point) {
	s := func(ms float64) float64 { return ms / 1000 }
	fmt.Fprintf(w, "\nSummary (%s loop, %s on %s, %d node(s), %s):\n", p.Mode, p.Workload, p.Target, p.Nodes, p.Backend)
	if p.Unsafe != "" {
		fmt.Fprintf(w, "  UNSAFE:\t%s\n", p.Unsafe)
	}
	if len(p.Emulated) > 0 {
		fmt.Fprintf(w, "  Emulated:\t%s\n", strings.Join(p.Emulated, ", "))
	}
	if p.Watchers > 0 {
		fmt.Fprintf(w, "  (latencies below are watch event deliveries, put sent to event received, to %d watchers)\n", p.Watchers)
	}
	fmt.Fprintf(w, "  Total:\t%.4f secs.\n", p.DurationS)
	fmt.Fprintf(w, "  Slowest:\t%.4f secs.\n", s(p.LatencyMs.Max))
	fmt.Fprintf(w, "  Fastest:\t%.4f secs.\n", s(p.LatencyMs.Min))
	fmt.Fprintf(w, "  Average:\t%.4f secs.\n", s(p.LatencyMs.Mean))
	fmt.Fprintf(w, "  Stddev:\t%.4f secs.\n", s(p.LatencyMs.StdDev))
	fmt.Fprintf(w, "  Requests/sec:\t%.4f\n", p.Throughput)
	fmt.Fprintf(w, "  Operations:\t%d ok, %d failed\n", p.Ops, p.Errors)
	if p.Watchers > 0 {
		fmt.Fprintf(w, "  Watch:\t%d puts delivered to %d watchers, %d missed, %d duplicated\n",
			p.WatchPuts, p.Watchers, p.WatchMissed, p.WatchDuplicated)
		if l := p.WriteLatencyMs; l != nil {
			fmt.Fprintf(w, "  Put latency:\tp50 %.4f, p99 %.4f, max %.4f secs.\n", s(l.P50), s(l.P99), s(l.Max))
		}
	}
	if p.SyncsPerOp > 0 {
		fmt.Fprintf(w, "  Syncs/op:\t%.4f\n", p.SyncsPerOp)
	}
	printLogStats(w, p)
	if p.GeneratorCPUS > 0 {
		who := "generator"
		if p.CPUShared {
			who = "generator and servers (one process)"
		}
		fmt.Fprintf(w, "  CPU:\t%.3f secs. %s", p.GeneratorCPUS, who)
		if n := p.Ops + p.Errors; n > 0 {
			fmt.Fprintf(w, ", %.2f secs. per 100k ops", p.GeneratorCPUS/float64(n)*1e5)
		}
		if p.ServerCPUS > 0 {
			fmt.Fprintf(w, "; %.3f secs. servers", p.ServerCPUS)
		}
		fmt.Fprintln(w)
	}
	if p.Histogram != nil && p.Histogram.TotalCount() > 0 {
		fmt.Fprintf(w, "\nLatency distribution:\n")
		for _, q := range []float64{10, 25, 50, 75, 90, 95, 99, 99.9} {
			fmt.Fprintf(w, "  %g%% in %.4f secs.\n", q, float64(p.Histogram.ValueAtQuantile(q))/1e9)
		}
	}
	if len(p.ErrorsByCode) > 0 {
		fmt.Fprintf(w, "\nErrors by code:\n")
		for _, code := range slices.Sorted(maps.Keys(p.ErrorsByCode)) {
			fmt.Fprintf(w, "  %s: %d\n", code, p.ErrorsByCode[code])
		}
	}
}

// printLogStats prints what the log backends of all members did during the
// measured part of the run, when the target could tell.
func printLogStats(w io.Writer, p *results.Point) {
	if p.LogSyncs == 0 && p.LogEntriesSaved == 0 && p.LogBytesWritten == 0 {
		return
	}
	fmt.Fprintf(w, "  Log syncs:\t%d", p.LogSyncs)
	if p.LogSyncs > 0 && p.LogEntriesSaved > 0 {
		fmt.Fprintf(w, ", %.2f entries/sync", float64(p.LogEntriesSaved)/float64(p.LogSyncs))
	}
	if l := p.LogSyncLatencyMs; l != nil {
		fmt.Fprintf(w, ", sync p50 %.3f ms, p99 %.3f ms (bucket estimates)", l.P50, l.P99)
	}
	fmt.Fprintln(w)
	if p.LogEntriesSaved > 0 {
		fmt.Fprintf(w, "  Log written:\t%d entries, %d bytes\n", p.LogEntriesSaved, p.LogBytesWritten)
	} else {
		// Real etcd exports its WAL's bytes but no entry count.
		fmt.Fprintf(w, "  Log written:\t%d bytes (the target does not export entries)\n", p.LogBytesWritten)
	}
	if p.FlushInstruction != "" {
		fmt.Fprintf(w, "  Flush:\t%s\n", p.FlushInstruction)
	}
}
