package check

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/adrbench/adrbench/harness"
)

// Config is one linearizability check: a cluster, the faults to inject
// into it, and the workload that runs meanwhile.
type Config struct {
	// Cluster is the cluster to start: target process or etcd, members,
	// log backend, timing. Run sets its fault fields (PeerCuts, and
	// DiskStalls when a stall is among the faults).
	Cluster harness.ClusterConfig
	// Faults are fault names (Faults lists them); each fault injected
	// is one of them, drawn at random.
	Faults []string
	// Duration is how long the clients run while faults are injected.
	Duration time.Duration
	// Seed makes the run's choices (faults, members, operations)
	// repeatable; the cluster's timing is not.
	Seed uint64

	// Clients is the number of concurrent clients, each with a
	// connection to one member (client i to member i mod Nodes), so that
	// every member serves reads and writes.
	Clients int
	// Keys is the number of keys the clients share.
	Keys int
	// OpTimeout bounds one operation; a write that runs out of it is
	// indeterminate.
	OpTimeout time.Duration
	// FaultHold is how long a fault lasts on average, FaultGap the
	// quiet time between one fault's recovery and the next fault; each
	// is drawn uniformly from half to one and a half times its value.
	FaultHold time.Duration
	FaultGap  time.Duration
	// Recover bounds the wait for the cluster to be healthy after each
	// fault and after the run.
	Recover time.Duration
	// CheckTimeout bounds the linearizability check of the history; a
	// check that runs out of it has no verdict.
	CheckTimeout time.Duration

	// Out is the run directory: the report, the history and, on a
	// violation, porcupine's visualization.
	Out string
	// Progress, when set, is told of every fault as it is injected.
	Progress io.Writer
}

// DefaultConfig is a 3-member process cluster on the batched backend
// with etcd's timing, under kill, pause and partition faults for 30 s.
func DefaultConfig() Config {
	cl := harness.DefaultClusterConfig()
	cl.Target, cl.Nodes = harness.TargetProcess, 3
	cl.StartTimeout = time.Minute
	return Config{
		Cluster:      cl,
		Faults:       []string{FaultKill, FaultPause, FaultPartition},
		Duration:     30 * time.Second,
		Seed:         1,
		Clients:      9,
		Keys:         5,
		OpTimeout:    2 * time.Second,
		FaultHold:    2 * time.Second,
		FaultGap:     time.Second,
		Recover:      time.Minute,
		CheckTimeout: 5 * time.Minute,
	}
}

// Validate names the first bad field of c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if t := c.Cluster.Target; t != harness.TargetProcess && t != harness.TargetEtcd {
		return bad("target %q: the check starts member processes, so the target is %s or %s", t, harness.TargetProcess, harness.TargetEtcd)
	}
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	if len(c.Faults) == 0 {
		return bad("faults: none given (known: %s)", strings.Join(Faults(), ", "))
	}
	for _, f := range c.Faults {
		if !slices.Contains(Faults(), f) {
			return fmt.Errorf("%w %q (known: %s)", ErrUnknownFault, f, strings.Join(Faults(), ", "))
		}
		if partitions(f) && c.Cluster.Nodes < 3 {
			return bad("fault %s needs at least 3 members, not %d: a partition of fewer leaves no majority to take writes", f, c.Cluster.Nodes)
		}
	}
	switch {
	case c.Duration <= 0:
		return bad("duration %v is not positive", c.Duration)
	case c.Clients < 1:
		return bad("clients %d: at least 1", c.Clients)
	case c.Keys < 1:
		return bad("keys %d: at least 1", c.Keys)
	case c.OpTimeout <= 0:
		return bad("op timeout %v is not positive", c.OpTimeout)
	case c.FaultHold <= 0:
		return bad("fault hold %v is not positive", c.FaultHold)
	case c.FaultGap < 0:
		return bad("fault gap %v is negative", c.FaultGap)
	case c.Recover <= 0:
		return bad("recover %v is not positive", c.Recover)
	case c.CheckTimeout <= 0:
		return bad("check timeout %v is not positive", c.CheckTimeout)
	case c.Out == "":
		return bad("out: no run directory")
	}
	return nil
}

// ParseFaults splits a comma-separated list of fault names and checks
// each; an unknown one is ErrUnknownFault, naming it and the known ones.
func ParseFaults(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(Faults(), f) {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownFault, f, strings.Join(Faults(), ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no fault named in %q (known: %s)", ErrUnknownFault, s, strings.Join(Faults(), ", "))
	}
	return out, nil
}
