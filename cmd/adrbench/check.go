package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/check"
	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
)

// Exit codes of `adrbench check linearizability`: 0 passed, 1 a violation
// (or a cluster that did not recover, or lost an acknowledged write), 2
// the check could not run or reach a verdict.
const (
	exitViolation = 1
	exitNoVerdict = 2
)

// checkOptions are the flags of `adrbench check linearizability`.
type checkOptions struct {
	target       string
	nodes        int
	logBackend   string
	faults       string
	duration     time.Duration
	seed         uint64
	out          string
	clients      int
	keys         int
	opTimeout    time.Duration
	faultHold    time.Duration
	faultGap     time.Duration
	recover      time.Duration
	checkTimeout time.Duration
	heartbeatMs  uint
	electionMs   uint
	etcdBinary   string
	serveBinary  string

	backendNames []string
	cfg          check.Config // resolved by Validate
}

func (o *checkOptions) AddFlags(fs *pflag.FlagSet) {
	d := check.DefaultConfig()
	fs.StringVar(&o.target, "target", d.Cluster.Target, "cluster to check: process (adrbench serve members) or etcd (real etcd from PATH)")
	fs.IntVar(&o.nodes, "nodes", d.Cluster.Nodes, "members to start")
	fs.StringVar(&o.logBackend, "log-backend", "batched", "raft log storage of the members: "+strings.Join(o.backendNames, ", ")+" (process)")
	fs.StringVar(&o.faults, "faults", strings.Join(d.Faults, ","), "comma-separated faults to inject, one at a time: "+strings.Join(check.Faults(), ", "))
	fs.DurationVar(&o.duration, "duration", d.Duration, "how long the clients run while faults are injected")
	fs.Uint64Var(&o.seed, "seed", d.Seed, "seed of the faults' and the clients' choices")
	fs.StringVar(&o.out, "out", "", `run directory: report, history, and porcupine's visualization on a violation (default "results/runs/<UTC time>-check-linearizability")`)
	fs.IntVar(&o.clients, "clients", d.Clients, "concurrent clients, each connected to one member in turn")
	fs.IntVar(&o.keys, "keys", d.Keys, "keys the clients share")
	fs.DurationVar(&o.opTimeout, "op-timeout", d.OpTimeout, "time limit of one operation; a write that runs out of it is indeterminate")
	fs.DurationVar(&o.faultHold, "fault-hold", d.FaultHold, "how long a fault lasts, on average")
	fs.DurationVar(&o.faultGap, "fault-gap", d.FaultGap, "quiet time after the cluster recovers before the next fault, on average")
	fs.DurationVar(&o.recover, "recover", d.Recover, "how long the cluster is given to be healthy again after a fault")
	fs.DurationVar(&o.checkTimeout, "check-timeout", d.CheckTimeout, "time limit of the linearizability check of the history")
	fs.UintVar(&o.heartbeatMs, "heartbeat-interval", uint(d.Cluster.HeartbeatInterval/time.Millisecond), "members' heartbeat interval in milliseconds")
	fs.UintVar(&o.electionMs, "election-timeout", uint(d.Cluster.ElectionTimeout/time.Millisecond), "members' election timeout in milliseconds")
	fs.StringVar(&o.etcdBinary, "etcd-binary", "etcd", "etcd executable to start (etcd)")
	fs.StringVar(&o.serveBinary, "serve-binary", "", "adrbench executable whose serve the members run (default: this program) (process)")
}

// Validate resolves the flags into a check.Config and checks it.
func (o *checkOptions) Validate(now time.Time) error {
	faults, err := check.ParseFaults(o.faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	c := check.DefaultConfig()
	c.Cluster.Target, c.Cluster.Nodes = o.target, o.nodes
	c.Cluster.HeartbeatInterval = time.Duration(o.heartbeatMs) * time.Millisecond
	c.Cluster.ElectionTimeout = time.Duration(o.electionMs) * time.Millisecond
	c.Cluster.EtcdBinary, c.Cluster.ServeBinary = o.etcdBinary, o.serveBinary
	switch o.target {
	case harness.TargetProcess:
		if !slices.Contains(o.backendNames, o.logBackend) {
			return fmt.Errorf("--log-backend: %w %q (known: %s)", logbackends.ErrUnknownBackend, o.logBackend, strings.Join(o.backendNames, ", "))
		}
		c.Cluster.LogBackend = o.logBackend
	case harness.TargetEtcd:
		c.Cluster.LogBackend = ""
	default:
		return fmt.Errorf("--target: %w: %q is not process or etcd", check.ErrConfig, o.target)
	}
	c.Faults, c.Duration, c.Seed = faults, o.duration, o.seed
	c.Clients, c.Keys, c.OpTimeout = o.clients, o.keys, o.opTimeout
	c.FaultHold, c.FaultGap, c.Recover, c.CheckTimeout = o.faultHold, o.faultGap, o.recover, o.checkTimeout
	c.Out = o.out
	if c.Out == "" {
		c.Out = filepath.Join("results", "runs", results.DirName(now, "check-linearizability"))
	}
	if err := c.Validate(); err != nil {
		return err
	}
	o.cfg = c
	return nil
}

func newCheckCmd(backends *logbackends.Registry) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a cluster's correctness under faults",
		Args:  cobra.NoArgs,
	}
	o := &checkOptions{backendNames: backends.Names()}
	lin := &cobra.Command{
		Use:   "linearizability",
		Short: "Inject faults into a cluster under load and check its history with porcupine",
		Long: "Start a cluster of adrbench serve members (or real etcd), run clients doing puts,\n" +
			"linearizable gets and compare-and-set txns on a few keys while faults are\n" +
			"injected one at a time (kills, pauses, partitions at the peer proxies, disk\n" +
			"stalls), heal them, check that every member is healthy and still holds every\n" +
			"acknowledged write, and check the recorded history for linearizability with\n" +
			"porcupine. The report, history and (on a violation) porcupine's visualization\n" +
			"go to the run directory.\n\n" +
			"Exit status: 0 passed, 1 a violation (or a cluster that did not recover or lost\n" +
			"an acknowledged write), 2 the check could not run or reach a verdict.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(time.Now()); err != nil {
				return &exitError{code: exitNoVerdict, err: err}
			}
			return o.run(cmd, backends)
		},
	}
	o.AddFlags(lin.Flags())
	cmd.AddCommand(lin)
	return cmd
}

// run runs the check, prints the report and turns its outcome into the
// exit code.
func (o *checkOptions) run(cmd *cobra.Command, backends *logbackends.Registry) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if isTerminal(cmd.ErrOrStderr()) {
		o.cfg.Progress = cmd.ErrOrStderr()
	}
	r, err := check.Run(ctx, o.cfg, backends)
	if r != nil {
		r.Print(cmd.OutOrStdout())
	}
	switch {
	case err != nil:
		return &exitError{code: exitNoVerdict, err: err}
	case r.Passed():
		return nil
	case r.Verdict == check.VerdictUnknown && r.Healthy && r.Acked.OK() && r.FaultErrors() == 0:
		return &exitError{code: exitNoVerdict, err: fmt.Errorf("linearizability check: no verdict within --check-timeout %v (history in %s)", o.cfg.CheckTimeout, r.Dir)}
	}
	return &exitError{code: exitViolation, err: fmt.Errorf("%w: verdict %s, members healthy %v, acknowledged writes %s, %d faults failed (run directory %s)",
		errCheckFailed, r.Verdict, r.Healthy, r.Acked, r.FaultErrors(), r.Dir)}
}
