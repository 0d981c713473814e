package sweep

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/results"
)

// Env is what Expand needs to know about the machine.
type Env struct {
	// Backends are the log backends the binary has registered.
	Backends []string
	// LookPath finds an executable; nil means exec.LookPath.
	LookPath func(file string) (string, error)
}

// PlannedPoint is one point of a plan.
type PlannedPoint struct {
	Bench harness.BenchConfig
	// Key identifies the point among measured ones: it is the Key of the
	// point Bench reports for Bench.
	Key results.PointKey
	// Label is the point in a few words, for progress lines.
	Label string
}

// Plan is the expanded sweep, in the order it runs.
type Plan struct {
	Points []PlannedPoint
	// Notes say what the plan leaves out and why (an etcd binary that is
	// missing, a target that cannot take injected latency); they are
	// printed and recorded in run.json.
	Notes []string
}

// Expand turns c into points and checks every one (backend names against
// env, each point through harness.BenchConfig.Validate) before any runs.
// The order runs each panel of the figures (disk profile, then network
// delay) to completion before the next, closed loop before open loop.
func Expand(c Config, env Env) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	if err := checkBackends(c, env.Backends); err != nil {
		return Plan{}, err
	}
	pl := planner{c: c, seen: map[results.PointKey]bool{}, noted: map[string]bool{}}
	pl.targets, pl.plan.Notes = runnableTargets(c, env.lookPath())
	for _, disk := range c.DiskProfiles {
		for _, delay := range c.NetDelays {
			if err := pl.addClosed(disk, delay); err != nil {
				return Plan{}, err
			}
			if err := pl.addOpen(disk, delay); err != nil {
				return Plan{}, err
			}
		}
	}
	if len(pl.plan.Points) == 0 {
		return pl.plan, fmt.Errorf("%w: no points left to run (%s)", ErrConfig, strings.Join(pl.plan.Notes, "; "))
	}
	return pl.plan, nil
}

func (e Env) lookPath() func(string) (string, error) {
	if e.LookPath == nil {
		return exec.LookPath
	}
	return e.LookPath
}

// checkBackends refuses a backend the binary does not have, when a target
// that runs them (inproc, process) is in the sweep.
func checkBackends(c Config, known []string) error {
	if !slices.ContainsFunc(c.Targets, takesBackend) {
		return nil
	}
	for i, b := range c.Backends {
		if !slices.Contains(known, b) {
			return fieldErr(idx("backends", i), "unknown log backend %q (this binary has: %s)", b, strings.Join(known, ", "))
		}
	}
	return nil
}

// runnableTargets are c's targets that this machine can run, with a note
// for each one left out: etcd when its binary is not found.
func runnableTargets(c Config, lookPath func(string) (string, error)) (targets, notes []string) {
	for _, t := range c.Targets {
		if t == harness.TargetEtcd {
			if _, err := lookPath(c.Cluster.EtcdBinary); err != nil {
				notes = append(notes, fmt.Sprintf(
					"target etcd skipped: the etcd binary %q is not on PATH (install etcd to get its reference line)", c.Cluster.EtcdBinary))
				continue
			}
		}
		targets = append(targets, t)
	}
	return targets, notes
}

// planner collects the points of one panel (disk profile and network
// delay) after another.
type planner struct {
	c       Config
	targets []string
	plan    Plan
	seen    map[results.PointKey]bool
	noted   map[string]bool // targets already noted as native-only, or without TLS
}

// addClosed plans the panel's closed-loop points: every client count,
// cluster size, target and backend.
func (pl *planner) addClosed(disk string, delay time.Duration) error {
	c := pl.c
	for _, cl := range c.Clients {
		run := harness.RunConfig{Mode: results.ModeClosed, Clients: cl.Clients, Total: c.Total,
			Duration: c.Duration, Warmup: c.Warmup, OpTimeout: c.OpTimeout}
		for _, n := range c.Nodes {
			for _, t := range pl.targets {
				for _, backend := range backendsOf(t, c.Backends) {
					if err := pl.add(t, backend, n, delay, disk, run, cl.Conns); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// addOpen plans the panel's open-loop points, every rate in ascending
// order, on the open loop's own cluster sizes and backends when it names
// them; none when the open loop is restricted to other disk profiles.
func (pl *planner) addOpen(disk string, delay time.Duration) error {
	o := pl.c.OpenLoop
	if len(o.DiskProfiles) > 0 && !slices.Contains(o.DiskProfiles, disk) {
		return nil
	}
	nodes, backends := o.Nodes, o.Backends
	if len(nodes) == 0 {
		nodes = pl.c.Nodes
	}
	if len(backends) == 0 {
		backends = pl.c.Backends
	}
	for _, n := range nodes {
		for _, t := range pl.targets {
			for _, backend := range backendsOf(t, backends) {
				for _, rate := range sortedRates(o.Rates) {
					if err := pl.add(t, backend, n, delay, disk, pl.c.openRun(rate), o.Conns); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// openRun is the load of an open-loop point at rate.
func (c Config) openRun(rate float64) harness.RunConfig {
	r := harness.RunConfig{Mode: results.ModeOpen, Clients: c.OpenLoop.Clients, Rate: rate,
		Total: c.Total, Duration: c.Duration, Warmup: c.Warmup, OpTimeout: c.OpTimeout}
	if c.OpenLoop.Duration > 0 {
		r.Total, r.Duration = 0, c.OpenLoop.Duration
	}
	return r
}

// add plans the point once for each value of the TLS axis, unless its
// target has no TLS (then the target is noted once).
func (pl *planner) add(t, backend string, nodes int, delay time.Duration, disk string, run harness.RunConfig, conns int) error {
	for _, secure := range pl.c.TLS {
		if secure && t == harness.TargetInproc {
			if !pl.noted["tls:"+t] {
				pl.noted["tls:"+t] = true
				pl.plan.Notes = append(pl.plan.Notes, "target inproc runs only without TLS: its members share one process and an in-process network")
			}
			continue
		}
		if err := pl.addOne(t, backend, nodes, delay, disk, run, conns, secure); err != nil {
			return err
		}
	}
	return nil
}

// addOne plans one point unless it is planned already, or its target
// cannot take the panel's injected latency (then the target is noted
// once).
func (pl *planner) addOne(t, backend string, nodes int, delay time.Duration, disk string, run harness.RunConfig, conns int, secure bool) error {
	if t != harness.TargetInproc && (delay != 0 || disk != diskprofile.Native) {
		// The harness refuses latency injection into processes it does
		// not own; such a target is a reference in the native,
		// no-delay panel only.
		if !pl.noted[t] {
			pl.noted[t] = true
			pl.plan.Notes = append(pl.plan.Notes, fmt.Sprintf(
				"target %s runs only at disk profile native and net delay 0s: latency cannot be injected into it, so it is a reference in that panel only", t))
		}
		return nil
	}
	b := pl.c.benchConfig(t, backend, nodes, delay, disk, run, conns)
	b.Cluster.TLS = secure
	if secure && t == harness.TargetExternal {
		b.Cluster.CACert, b.Cluster.Cert, b.Cluster.Key = pl.c.Cluster.CACert, pl.c.Cluster.Cert, pl.c.Cluster.Key
	}
	pt := b.Point()
	p := PlannedPoint{Bench: b, Key: pt.Key(), Label: labelOf(b)}
	if pl.seen[p.Key] {
		return nil
	}
	pl.seen[p.Key] = true
	if err := b.Validate(); err != nil {
		return fmt.Errorf("%w: point %s: %w", ErrConfig, p.Label, err)
	}
	pl.plan.Points = append(pl.plan.Points, p)
	return nil
}

func (c Config) benchConfig(target, backend string, nodes int, delay time.Duration, disk string, run harness.RunConfig, conns int) harness.BenchConfig {
	b := harness.DefaultBenchConfig()
	b.Name = c.Name
	b.Cluster.Target = target
	b.Cluster.Nodes = nodes
	b.Cluster.LogBackend = backend
	if target == harness.TargetExternal {
		b.Cluster.Endpoints = slices.Clone(c.Cluster.Endpoints)
		b.Cluster.Nodes = len(c.Cluster.Endpoints)
	}
	b.Cluster.NetDelay = delay
	b.Cluster.DiskProfile = disk
	b.Cluster.EtcdBinary = c.Cluster.EtcdBinary
	b.Cluster.SnapshotCount = c.Cluster.SnapshotCount
	b.Cluster.HeartbeatInterval = c.Cluster.HeartbeatInterval
	b.Cluster.ElectionTimeout = c.Cluster.ElectionTimeout
	b.Cluster.StartTimeout = c.Cluster.StartTimeout
	b.Workload = c.Workload
	b.Run = run
	b.Conns = conns
	b.ToLeader = c.ToLeader
	return b
}

// backendsOf is the backends a target is planned with: its own storage
// ("") for targets that do not take one.
func backendsOf(target string, backends []string) []string {
	if takesBackend(target) {
		return backends
	}
	return []string{""}
}

// takesBackend reports whether target runs our members, on the sweep's
// log backends: inproc, and process (`adrbench serve` children).
func takesBackend(target string) bool {
	return target == harness.TargetInproc || target == harness.TargetProcess
}

func sortedRates(r []float64) []float64 {
	s := slices.Clone(r)
	slices.Sort(s)
	return s
}

func labelOf(b harness.BenchConfig) string {
	name := b.Cluster.LogBackend
	if !takesBackend(b.Cluster.Target) {
		name = ""
	}
	l := strings.Join(strings.Fields(fmt.Sprintf("%s %s n=%d delay=%v disk=%s c=%d",
		b.Cluster.Target, name, b.Cluster.Nodes, b.Cluster.NetDelay, b.Cluster.DiskProfile, b.Run.Clients)), " ")
	if b.Run.Mode == results.ModeOpen {
		l += " rate=" + strconv.FormatFloat(b.Run.Rate, 'g', -1, 64) + "/s"
	}
	if b.Cluster.TLS {
		l += " tls"
	}
	return l
}
