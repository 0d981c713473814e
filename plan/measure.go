package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/plan/search"
	"github.com/adrbench/adrbench/results"
)

// MeasureConfig is a `plan measure` file: the configurations whose
// capacity to measure, and how.
type MeasureConfig struct {
	Name string `yaml:"name" json:"name"`
	// The configurations: every combination of these axes.
	Targets      []string        `yaml:"targets" json:"targets"`
	Backends     []string        `yaml:"backends" json:"backends"`
	Nodes        []int           `yaml:"nodes" json:"nodes"`
	NetDelays    []time.Duration `yaml:"net_delays" json:"net_delays"`
	NetJitter    time.Duration   `yaml:"net_jitter" json:"net_jitter"`
	DiskProfiles []string        `yaml:"disk_profiles" json:"disk_profiles"`
	Clients      int             `yaml:"clients" json:"clients"`
	Conns        int             `yaml:"conns" json:"conns"`
	ToLeader     bool            `yaml:"to_leader" json:"to_leader"`
	KeySize      int             `yaml:"key_size" json:"key_size"`
	ValSize      int             `yaml:"val_size" json:"val_size"`
	KeySpace     int             `yaml:"key_space" json:"key_space"`
	// Objective: p99 (overridden by --slo-p99), and optional p50, p99.9
	// bounds, in milliseconds.
	Objective search.Objective `yaml:"objective" json:"objective"`
	Search    search.Config    `yaml:"search" json:"search"`
	Probe     ProbeConfig      `yaml:"probe" json:"probe"`
	Cluster   ClusterSettings  `yaml:"cluster" json:"cluster"`
}

// ProbeConfig is how long one probe runs: Duration, or long enough for
// MinOps writes at its rate (a stable p99 needs thousands), at most
// MaxDuration, after Warmup.
type ProbeConfig struct {
	Warmup      time.Duration `yaml:"warmup" json:"warmup"`
	Duration    time.Duration `yaml:"duration" json:"duration"`
	MinOps      int           `yaml:"min_ops" json:"min_ops"`
	MaxDuration time.Duration `yaml:"max_duration" json:"max_duration"`
	OpTimeout   time.Duration `yaml:"op_timeout" json:"op_timeout"`
}

// ClusterSettings are what the probes' clusters share.
type ClusterSettings struct {
	Endpoints         []string      `yaml:"endpoints" json:"endpoints"`
	EtcdBinary        string        `yaml:"etcd_binary" json:"etcd_binary"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval"`
	ElectionTimeout   time.Duration `yaml:"election_timeout" json:"election_timeout"`
}

// DefaultMeasureConfig is one inproc batched member under the Intel load,
// probed for 5 s (at least 5000 writes) after 1 s of warm-up.
func DefaultMeasureConfig() MeasureConfig {
	s := DefaultSetup()
	return MeasureConfig{
		Name: "plan-measure", Targets: []string{TargetInproc}, Backends: []string{s.Backend},
		Nodes: []int{1}, NetDelays: []time.Duration{0}, DiskProfiles: []string{diskprofile.Native},
		Clients: s.Clients, Conns: s.Conns, KeySize: s.KeySize, ValSize: s.ValSize, KeySpace: 100000,
		Search: search.DefaultConfig(),
		Probe: ProbeConfig{Warmup: time.Second, Duration: 5 * time.Second, MinOps: 5000,
			MaxDuration: 30 * time.Second, OpTimeout: 10 * time.Second},
		Cluster: ClusterSettings{EtcdBinary: "etcd", HeartbeatInterval: 100 * time.Millisecond, ElectionTimeout: time.Second},
	}
}

// LoadMeasureConfig reads a plan measure file over DefaultMeasureConfig,
// refusing unknown fields.
func LoadMeasureConfig(path string) (MeasureConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return MeasureConfig{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c := DefaultMeasureConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return MeasureConfig{}, fmt.Errorf("%w: %s: %s", ErrConfig, path,
			strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:")), " "))
	}
	return c, nil
}

var harnessTargets = []string{TargetInproc, TargetProcess, "etcd", "external"}

// Validate names the first bad field of c; backends are the names the
// binary knows.
func (c MeasureConfig) Validate(backends []string) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.Name == "" || strings.ContainsAny(c.Name, `/\ `) {
		return bad("name", "%q: want a name without slashes or spaces", c.Name)
	}
	if len(c.Targets) == 0 {
		return bad("targets", "empty")
	}
	for i, t := range c.Targets {
		if !slices.Contains(harnessTargets, t) {
			return bad(fmt.Sprintf("targets[%d]", i), "%q (known: %s)", t, strings.Join(harnessTargets, ", "))
		}
		if t == "external" && len(c.Cluster.Endpoints) == 0 {
			return bad("cluster.endpoints", "target external needs endpoints")
		}
	}
	for i, b := range c.Backends {
		if !slices.Contains(backends, b) {
			return bad(fmt.Sprintf("backends[%d]", i), "unknown backend %q (known: %s)", b, strings.Join(backends, ", "))
		}
	}
	if len(c.Backends) == 0 && (slices.Contains(c.Targets, TargetInproc) || slices.Contains(c.Targets, TargetProcess)) {
		return bad("backends", "empty")
	}
	if len(c.Nodes) == 0 {
		return bad("nodes", "empty")
	}
	for i, n := range c.Nodes {
		if n < 1 || n > 15 {
			return bad(fmt.Sprintf("nodes[%d]", i), "%d not in 1..15", n)
		}
	}
	if len(c.NetDelays) == 0 {
		return bad("net_delays", "empty (give [0s] for none)")
	}
	for i, d := range c.NetDelays {
		if d < 0 {
			return bad(fmt.Sprintf("net_delays[%d]", i), "%v is negative", d)
		}
	}
	if c.NetJitter < 0 {
		return bad("net_jitter", "%v is negative", c.NetJitter)
	}
	if len(c.DiskProfiles) == 0 {
		return bad("disk_profiles", "empty (give [native] for none)")
	}
	for i, p := range c.DiskProfiles {
		if _, err := diskprofile.Lookup(p); err != nil {
			return bad(fmt.Sprintf("disk_profiles[%d]", i), "%v", err)
		}
	}
	switch {
	case c.Clients < 1:
		return bad("clients", "%d < 1", c.Clients)
	case c.Conns < 1 || c.Conns > c.Clients:
		return bad("conns", "%d not in 1..clients (%d)", c.Conns, c.Clients)
	case c.KeySize < 1 || c.ValSize < 0 || c.KeySpace < 1:
		return bad("key_size", "key size %d, value size %d, key space %d", c.KeySize, c.ValSize, c.KeySpace)
	case c.Probe.Duration < 500*time.Millisecond:
		return bad("probe.duration", "%v: want at least 500ms", c.Probe.Duration)
	case c.Probe.MaxDuration < c.Probe.Duration:
		return bad("probe.max_duration", "%v is below duration %v", c.Probe.MaxDuration, c.Probe.Duration)
	case c.Probe.Warmup < 0 || c.Probe.MinOps < 0 || c.Probe.OpTimeout < 0:
		return bad("probe", "negative warmup, min_ops or op_timeout")
	}
	if err := c.Search.Validate(); err != nil {
		return bad("search", "%v", err)
	}
	if err := c.Objective.Validate(); err != nil {
		return bad("objective", "%v", err)
	}
	return nil
}

// Setups are the configurations of c, in the order they are measured.
// Targets that run their own storage (etcd, external) are measured once
// per combination of the other axes, on the native disk without injected
// delay only, as a sweep does.
func (c MeasureConfig) Setups() []Setup {
	var out []Setup
	seen := map[string]bool{}
	for _, t := range c.Targets {
		backends := c.Backends
		if t != TargetInproc && t != TargetProcess {
			backends = []string{""}
		}
		for _, b := range backends {
			for _, n := range c.Nodes {
				for _, d := range c.NetDelays {
					for _, p := range c.DiskProfiles {
						if b == "" && (d != 0 || p != diskprofile.Native) {
							continue
						}
						s := Setup{Target: t, Backend: b, Nodes: n, NetDelay: d, NetJitter: c.NetJitter, DiskProfile: p,
							Clients: c.Clients, Conns: c.Conns, KeySize: c.KeySize, ValSize: c.ValSize, ToLeader: c.ToLeader}
						if t == "external" {
							s.Nodes = len(c.Cluster.Endpoints)
						}
						if !seen[s.Key()] {
							seen[s.Key()] = true
							out = append(out, s)
						}
					}
				}
			}
		}
	}
	return out
}

// probeDuration is how long a probe at rate measures.
func (c MeasureConfig) probeDuration(rate float64) time.Duration {
	d := c.Probe.Duration
	if c.Probe.MinOps > 0 {
		need := time.Duration(float64(c.Probe.MinOps) / rate * float64(time.Second))
		d = max(d, need.Round(time.Second))
	}
	return min(d, c.Probe.MaxDuration)
}

// Measurer runs plan measure.
type Measurer struct {
	Prober Prober
	// Progress, when not nil, gets a line per probe (a terminal).
	Progress io.Writer
}

// measureRecord is what plan measure writes into run.json's config.
type measureRecord struct {
	Measure   MeasureConfig    `json:"plan_measure"`
	Objective search.Objective `json:"objective"`
}

// Measure finds the knee of every configuration of cfg under obj, keeping
// every probe in dir's run.json and the answers in dir's plan.json after
// each probe, so that an interrupted measurement keeps what it measured
// and a second call with the same dir resumes it.
func (m *Measurer) Measure(ctx context.Context, cfg MeasureConfig, obj search.Objective, dir string) (*PlanFile, error) {
	run, err := openMeasureRun(dir, cfg.Name)
	if err != nil {
		return nil, err
	}
	rec := measureRecord{Measure: cfg, Objective: obj}
	pf := &PlanFile{Schema: PlanSchema, Kind: KindMeasured, SLO: SLO{P99Ms: obj.P99, P50Ms: obj.P50, P999Ms: obj.P999}}
	setups := cfg.Setups()
	var errOut error
	for si, s := range setups {
		known := knownOutcomes(run, s, cfg)
		if m.Progress != nil && len(known) > 0 {
			fmt.Fprintf(m.Progress, "resuming %s: %d probes already measured\n", s.Label(), len(known))
		}
		probe := func(ctx context.Context, rate float64) (search.Outcome, error) {
			d := cfg.probeDuration(rate)
			if m.Progress != nil {
				fmt.Fprintf(m.Progress, "\r\x1b[K[%d/%d] %s: probing %.0f/s for %v …", si+1, len(setups), s.Label(), rate, d+cfg.Probe.Warmup)
			}
			spec := ProbeSpec{Setup: s, EtcdBinary: cfg.Cluster.EtcdBinary, Endpoints: cfg.Cluster.Endpoints,
				HeartbeatInterval: cfg.Cluster.HeartbeatInterval, ElectionTimeout: cfg.Cluster.ElectionTimeout,
				KeySpace: cfg.KeySpace, Rate: rate, Warmup: cfg.Probe.Warmup, Duration: d,
				OpTimeout: cfg.Probe.OpTimeout, Name: cfg.Name}
			pr, err := m.Prober.Probe(ctx, spec)
			if ctx.Err() != nil {
				// A probe cut short would pass for a measurement.
				return search.Outcome{}, ctx.Err()
			}
			if err != nil {
				return search.Outcome{}, err
			}
			if pr == nil || len(pr.Points) != 1 {
				return search.Outcome{}, fmt.Errorf("%w: a probe returned no point", ErrRunDir)
			}
			pt := pr.Points[0]
			if run == nil {
				run = &results.Run{Header: results.Header{Schema: results.SchemaV1, Name: cfg.Name, Started: time.Now().UTC(), Git: pr.Git, Host: pr.Host}}
			}
			run.Points = append(run.Points, pt)
			if err := saveRun(dir, run, rec); err != nil {
				return search.Outcome{}, err
			}
			out := outcomeOf(&pt, d)
			if m.Progress != nil {
				verdict := "pass"
				if ok, why := obj.Judge(out); !ok {
					verdict = "fail: " + why
				}
				fmt.Fprintf(m.Progress, "\r\x1b[K[%d/%d] %s: %.0f/s → %.0f/s, p99 %.2f ms, %s\n", si+1, len(setups), s.Label(),
					rate, out.Achieved, out.P99, verdict)
			}
			return out, nil
		}
		res, err := search.Find(ctx, cfg.Search, obj, probe, known)
		pp := pointOf(s)
		pp.MaxWritesS, pp.P99MsAtMax, pp.Low, pp.High = res.Max, res.P99AtMax, res.Low, res.High
		pp.Probes, pp.Found = len(res.Probes), err == nil
		// A measurement shows where the knee is, not which resource made
		// it: `plan validate` asks the model that.
		pp.Bottleneck = BottleneckUnknown
		switch {
		case res.BelowMin:
			pp.Note = fmt.Sprintf("fails the objective even at %g writes/s", cfg.Search.Min)
		case res.AboveMax:
			pp.Note = fmt.Sprintf("sustains the searched maximum %g writes/s; the knee is above it", cfg.Search.Max)
		}
		if s.Backend == "async" {
			pp.Note = strings.TrimPrefix(pp.Note+"; UNSAFE: async acknowledges entries before they are durable", "; ")
		}
		pf.Points = append(pf.Points, pp)
		if werr := WritePlan(dir, pf); werr != nil {
			return pf, werr
		}
		if err != nil {
			if ctx.Err() != nil {
				errOut = fmt.Errorf("%w after %d of %d configurations: %w", ErrInterrupted, si, len(setups), context.Cause(ctx))
			} else {
				errOut = fmt.Errorf("%s: %w", s.Label(), err)
			}
			break
		}
	}
	return pf, errOut
}

// outcomeOf reads a probe's point: the rate completed while it was due
// (from the per-second series, so the drain after the last due write does
// not count against it), its errors and percentiles.
func outcomeOf(p *results.Point, d time.Duration) search.Outcome {
	out := search.Outcome{Rate: p.RateOpsS, Errors: p.Errors, P50: p.LatencyMs.P50, P99: p.LatencyMs.P99, P999: p.LatencyMs.P999}
	limit := d.Seconds() + 0.1
	var ops int64
	var last float64
	for _, s := range p.Series {
		if s.T <= limit {
			ops += s.Ops
			last = s.T
		}
	}
	if last > 0 {
		out.Achieved = float64(ops) / last
	} else if p.DurationS > 0 {
		out.Achieved = p.Throughput
	}
	if p.Ops == 0 {
		out.Achieved = 0
	}
	return out
}

// knownOutcomes are the probes of s that run already holds, in the order
// they were measured.
func knownOutcomes(run *results.Run, s Setup, cfg MeasureConfig) []search.Outcome {
	if run == nil {
		return nil
	}
	var out []search.Outcome
	for i := range run.Points {
		p := &run.Points[i]
		if p.Mode != results.ModeOpen || !samePoint(p, s) {
			continue
		}
		out = append(out, outcomeOf(p, cfg.probeDuration(p.RateOpsS)))
	}
	return out
}

func samePoint(p *results.Point, s Setup) bool {
	if p.Target != s.Target || p.Nodes != s.Nodes && s.Target != "external" || p.DiskProfile != s.DiskProfile ||
		math.Abs(p.NetDelayMs-ms(s.NetDelay)) > 1e-9 || p.Clients != s.Clients || p.Conns != s.Conns ||
		p.KeySize != s.KeySize || p.ValSize != s.ValSize {
		return false
	}
	return (s.Target != TargetInproc && s.Target != TargetProcess) || p.Backend == s.Backend
}

func openMeasureRun(dir, name string) (*results.Run, error) {
	run, err := results.Resume(dir, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return run, nil
}

// saveRun records rec as the run's config and rewrites dir's run
// directory (results.Rewrite: a crash leaves the old run or the new one).
func saveRun(dir string, run *results.Run, rec measureRecord) error {
	cfg, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	run.Config = cfg
	if err := results.Rewrite(dir, run); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return nil
}
