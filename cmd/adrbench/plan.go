package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/plan"
	"github.com/adrbench/adrbench/plan/search"
	"github.com/adrbench/adrbench/results"
)

// errPlanFlags marks a bad plan flag.
var errPlanFlags = errors.New("bad flags")

func newPlanCmd(backends *logbackends.Registry) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Capacity planning: measure capacity at a latency objective, calibrate a model, predict, validate",
		Long: "plan answers how many writes/s a cluster takes with its p99 under an objective.\n" +
			"  measure    finds it by open-loop probes on real clusters\n" +
			"  calibrate  measures this machine's costs for the model\n" +
			"  predict    answers for configurations this machine cannot run\n" +
			"  validate   compares the model with measured run directories",
	}
	cmd.AddCommand(newPlanCalibrateCmd(backends))
	cmd.AddCommand(newPlanPredictCmd(backends))
	cmd.AddCommand(newPlanValidateCmd(backends))
	cmd.AddCommand(newPlanMeasureCmd(backends))
	return cmd
}

// planCalibrateOptions are the flags of `adrbench plan calibrate`.
type planCalibrateOptions struct {
	out         string
	dir         string
	runDuration time.Duration
	saveBudget  time.Duration
}

func (o *planCalibrateOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.out, "out", "", `calibration directory to write (default "results/runs/<UTC time>-calibration")`)
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory on the disk to calibrate, for the log backends' files (default: the system's temporary directory)")
	cmd.Flags().DurationVar(&o.runDuration, "run-duration", 3*time.Second, "how long each calibration cluster run measures")
	cmd.Flags().DurationVar(&o.saveBudget, "save-budget", 600*time.Millisecond, "how long each Save latency measurement runs")
}

func (o *planCalibrateOptions) Validate(now time.Time) error {
	switch {
	case o.runDuration < 500*time.Millisecond:
		return fmt.Errorf("--run-duration: %w: %v is too short to measure (want >= 500ms)", errPlanFlags, o.runDuration)
	case o.saveBudget < 50*time.Millisecond:
		return fmt.Errorf("--save-budget: %w: %v is too short to measure (want >= 50ms)", errPlanFlags, o.saveBudget)
	}
	if o.dir != "" {
		if st, err := os.Stat(o.dir); err != nil || !st.IsDir() {
			return fmt.Errorf("--dir: %w: %s is not a directory", errPlanFlags, o.dir)
		}
	}
	if o.out == "" {
		o.out = filepath.Join("results", "runs", results.DirName(now, "calibration"))
	}
	if _, err := os.Stat(filepath.Join(o.out, plan.CalibrationFile)); err == nil {
		return fmt.Errorf("--out: %w: %s already holds a calibration", errPlanFlags, o.out)
	}
	return nil
}

func newPlanCalibrateCmd(backends *logbackends.Registry) *cobra.Command {
	o := &planCalibrateOptions{}
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Measure this machine's costs for the capacity model (a few minutes)",
		Long: "Measure the write path's costs with short targeted runs: every log backend's\n" +
			"Save latency distribution and CPU (on the native disk and each disk profile),\n" +
			"the native disk's slowdown when members share it, the transports' CPU per\n" +
			"message and per byte, the state machine's CPU per put, the load generator's\n" +
			"CPU per write, and the CPU per write, per raft loop pass and per entry fitted\n" +
			"to cluster runs of 1, 3 and 5 members. Writes calibration.json with the host\n" +
			"probe. Run it on an otherwise idle machine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(time.Now()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := plan.CalibrateConfig{Backends: backends, Dir: o.dir, RunDuration: o.runDuration,
				SaveBudget: o.saveBudget}
			if isTerminal(cmd.ErrOrStderr()) {
				cfg.Progress = cmd.ErrOrStderr()
			}
			cal, err := plan.Calibrate(ctx, cfg)
			if err != nil {
				return err
			}
			if err := cal.Write(o.out); err != nil {
				return err
			}
			plan.PrintCalibration(cmd.OutOrStdout(), cal)
			fmt.Fprintf(cmd.OutOrStdout(), "\ncalibration written to %s\n", filepath.Join(o.out, plan.CalibrationFile))
			return nil
		},
	}
	o.AddFlags(cmd)
	return cmd
}

// planPredictOptions are the flags of `adrbench plan predict`.
type planPredictOptions struct {
	calibration    string
	sloP99, sloP50 float64
	sloP999        float64
	backends       []string
	nodes          []int
	netDelays      []time.Duration
	netJitter      time.Duration
	profiles       []string
	coresPerMember int
	clients, conns int
	valSize        int
	keySize        int
	target         string
	needWrites     float64
	out            string
	sim            int

	cal    *plan.Calibration
	setups []plan.Setup
	obj    search.Objective
}

func (o *planPredictOptions) AddFlags(cmd *cobra.Command) {
	d := plan.DefaultSetup()
	f := cmd.Flags()
	f.StringVar(&o.calibration, "calibration", "", "calibration directory (from `adrbench plan calibrate`)")
	f.Float64Var(&o.sloP99, "slo-p99", 0, "latency objective: p99 in milliseconds (required)")
	f.Float64Var(&o.sloP50, "slo-p50", 0, "optional p50 objective in milliseconds")
	f.Float64Var(&o.sloP999, "slo-p999", 0, "optional p99.9 objective in milliseconds")
	f.StringSliceVar(&o.backends, "backend", []string{d.Backend}, "log backends, comma-separated")
	f.IntSliceVar(&o.nodes, "nodes", []int{3}, "cluster sizes, comma-separated")
	f.DurationSliceVar(&o.netDelays, "net-delay", []time.Duration{0}, "one-way delays between members (a round trip is twice), comma-separated")
	f.DurationVar(&o.netJitter, "net-jitter", 0, "jitter added to every one-way delay")
	f.StringSliceVar(&o.profiles, "disk-profile", []string{d.DiskProfile}, "disk profiles, comma-separated")
	f.IntVar(&o.coresPerMember, "cores-per-member", 0, "0: members and client share this machine's cores, as calibrated; c: each member has c dedicated cores")
	f.IntVar(&o.clients, "clients", d.Clients, "concurrent clients")
	f.IntVar(&o.conns, "conns", d.Conns, "client connections")
	f.IntVar(&o.valSize, "val-size", d.ValSize, "value size in bytes")
	f.IntVar(&o.keySize, "key-size", d.KeySize, "key size in bytes")
	f.StringVar(&o.target, "target", plan.TargetInproc, "inproc (members in one process) or process (members in processes, TCP between them)")
	f.Float64Var(&o.needWrites, "need-writes", 0, "writes/s needed: list the configurations that take them, smallest and cheapest first")
	f.StringVar(&o.out, "out", "", `directory for plan.json, figures and report.html (default "results/runs/<UTC time>-plan-predict")`)
	f.IntVar(&o.sim, "sim-writes", 2000, "writes each simulation measures")
}

func (o *planPredictOptions) Validate(backendNames []string, now time.Time) error {
	if o.calibration == "" {
		return fmt.Errorf("--calibration: %w: required (run `adrbench plan calibrate` first)", errPlanFlags)
	}
	o.obj = search.Objective{P99: o.sloP99, P50: o.sloP50, P999: o.sloP999}
	if err := o.obj.Validate(); err != nil {
		return fmt.Errorf("--slo-p99: %w", err)
	}
	switch {
	case o.needWrites < 0:
		return fmt.Errorf("--need-writes: %w: %v is negative", errPlanFlags, o.needWrites)
	case o.sim < 500:
		return fmt.Errorf("--sim-writes: %w: %d is too few for a p99 (want >= 500)", errPlanFlags, o.sim)
	case len(o.backends) == 0 || len(o.nodes) == 0 || len(o.netDelays) == 0 || len(o.profiles) == 0:
		return fmt.Errorf("--backend, --nodes, --net-delay, --disk-profile: %w: each needs a value", errPlanFlags)
	}
	cal, err := plan.LoadCalibration(o.calibration)
	if err != nil {
		return err
	}
	base := plan.DefaultSetup()
	base.Target, base.CoresPerMember, base.Clients, base.Conns = o.target, o.coresPerMember, o.clients, o.conns
	base.ValSize, base.KeySize, base.NetJitter = o.valSize, o.keySize, o.netJitter
	var delaysMs []float64
	for _, d := range o.netDelays {
		delaysMs = append(delaysMs, float64(d)/float64(time.Millisecond))
	}
	o.setups = plan.Grid(base, o.backends, o.nodes, delaysMs, o.profiles)
	for _, s := range o.setups {
		if err := s.Validate(backendNames); err != nil {
			return err
		}
		if _, err := cal.ModelConfig(s, 0); err != nil {
			return err
		}
	}
	o.cal = cal
	if o.out == "" {
		o.out = filepath.Join("results", "runs", results.DirName(now, "plan-predict"))
	}
	return nil
}

func newPlanPredictCmd(backends *logbackends.Registry) *cobra.Command {
	o := &planPredictOptions{}
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Predict capacity at a latency objective for a grid of configurations",
		Long: "Predict, with a calibrated model, the writes/s each combination of the\n" +
			"given backends, cluster sizes, delays and disk profiles sustains with its\n" +
			"p99 under --slo-p99, the p99 there and the resource that limits it. With\n" +
			"--need-writes, list the combinations that take that load, smallest and\n" +
			"cheapest first (none: say so and show the nearest; not an error). Prints\n" +
			"etcd's recommended heartbeat and election timeout for each round trip and\n" +
			"writes plan.json, figures and report.html. Configurations outside what\n" +
			"was calibrated are marked extrapolated.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(backends.Names(), time.Now()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			v, err := plan.ReadValidation(o.calibration)
			if err != nil {
				return err
			}
			pr := &plan.Predictor{Cal: o.cal, Measure: o.sim}
			var progress func(done, total int)
			if isTerminal(cmd.ErrOrStderr()) {
				progress = func(done, total int) { fmt.Fprintf(cmd.ErrOrStderr(), "\r\x1b[Kpredicted %d of %d", done, total) }
			}
			preds, err := pr.PredictAll(ctx, o.setups, o.obj, progress)
			if progress != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			pf := plan.PredictedPlan(preds, o.obj, o.calibration, v, o.needWrites)
			if err := plan.WritePlan(o.out, pf); err != nil {
				return err
			}
			figs := plan.DrawFigures(o.out, pf, v)
			if err := plan.WriteReport(o.out, pf, figs, v, map[string]any{"flags": o.flagValues(cmd), "calibration": o.cal}); err != nil {
				return err
			}
			plan.PrintPlan(cmd.OutOrStdout(), pf)
			fmt.Fprintf(cmd.OutOrStdout(), "\nplan: %s\nreport: %s\n", filepath.Join(o.out, plan.PlanFileName), filepath.Join(o.out, plan.ReportFile))
			return nil
		},
	}
	o.AddFlags(cmd)
	return cmd
}

// flagValues are the flags as given, for the report's record.
func (o *planPredictOptions) flagValues(cmd *cobra.Command) map[string]string {
	out := map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// planValidateOptions are the flags of `adrbench plan validate`.
type planValidateOptions struct {
	calibration string
	out         string
	sim         int
	cal         *plan.Calibration
}

func newPlanValidateCmd(backends *logbackends.Registry) *cobra.Command {
	o := &planValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate --calibration DIR RUN_DIR...",
		Short: "Predict every measured point of run directories and report the model's error",
		Long: "Predict each point of the given run directories (sweeps, bench runs, plan\n" +
			"measure runs, whose knees are compared too) with the calibrated model and\n" +
			"print measured against predicted throughput and p99, the error per point\n" +
			"and overall: at capacity on configurations not used in calibration, and\n" +
			"over every point. Points of targets the model does not describe (real\n" +
			"etcd, external clusters) are listed as skipped. Writes validation.json\n" +
			"into the calibration directory (or --out), where plan predict finds it.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.calibration == "" {
				return fmt.Errorf("--calibration: %w: required", errPlanFlags)
			}
			if o.sim < 500 {
				return fmt.Errorf("--sim-writes: %w: %d is too few for a p99 (want >= 500)", errPlanFlags, o.sim)
			}
			cal, err := plan.LoadCalibration(o.calibration)
			if err != nil {
				return err
			}
			for _, d := range args {
				if _, err := os.Stat(filepath.Join(d, results.RunFile)); err != nil {
					return fmt.Errorf("%s: %w: no %s", d, plan.ErrRunDir, results.RunFile)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pr := &plan.Predictor{Cal: cal, Measure: o.sim}
			var progress func(string)
			if isTerminal(cmd.ErrOrStderr()) {
				progress = func(l string) { fmt.Fprintf(cmd.ErrOrStderr(), "\r\x1b[K%s", l) }
			}
			v, err := pr.Validate(ctx, o.calibration, args, backends.Names(), progress)
			if progress != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			out := o.out
			if out == "" {
				out = o.calibration
			}
			if err := plan.WriteValidation(out, v); err != nil {
				return err
			}
			plan.PrintValidation(cmd.OutOrStdout(), v)
			fmt.Fprintf(cmd.OutOrStdout(), "\nvalidation: %s\n", filepath.Join(out, plan.ValidationFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.calibration, "calibration", "", "calibration directory (from `adrbench plan calibrate`)")
	cmd.Flags().StringVar(&o.out, "out", "", "directory for validation.json (default: the calibration directory)")
	cmd.Flags().IntVar(&o.sim, "sim-writes", 2000, "writes each simulation measures")
	return cmd
}

// planMeasureOptions are the flags of `adrbench plan measure`.
type planMeasureOptions struct {
	sloP99, sloP50, sloP999 float64
	resolution              float64
	repeats                 int
	out                     string

	cfg plan.MeasureConfig
	obj search.Objective
}

func (o *planMeasureOptions) Validate(path string, backendNames []string, cmd *cobra.Command, now time.Time) error {
	cfg, err := plan.LoadMeasureConfig(path)
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("slo-p99") || cfg.Objective.P99 == 0 {
		cfg.Objective.P99 = o.sloP99
	}
	if cmd.Flags().Changed("slo-p50") {
		cfg.Objective.P50 = o.sloP50
	}
	if cmd.Flags().Changed("slo-p999") {
		cfg.Objective.P999 = o.sloP999
	}
	if cmd.Flags().Changed("resolution") {
		cfg.Search.Resolution = o.resolution
	}
	if cmd.Flags().Changed("repeats") {
		cfg.Search.Repeats = o.repeats
	}
	if err := cfg.Objective.Validate(); err != nil {
		return fmt.Errorf("--slo-p99: %w", err)
	}
	if err := cfg.Validate(backendNames); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if o.out == "" {
		o.out = filepath.Join("results", "runs", results.DirName(now, cfg.Name))
	}
	o.cfg, o.obj = cfg, cfg.Objective
	return nil
}

func newPlanMeasureCmd(backends *logbackends.Registry) *cobra.Command {
	o := &planMeasureOptions{}
	cmd := &cobra.Command{
		Use:   "measure CONFIG.yaml --slo-p99 D",
		Short: "Measure the highest open-loop rate each configuration sustains within a latency objective",
		Long: "For each configuration of the file (any target; backends, cluster sizes,\n" +
			"delays, disk profiles; clients, connections, sizes), find the highest\n" +
			"offered open-loop rate that is sustained: at least 99% of it completed, no\n" +
			"errors, p99 <= --slo-p99 ms (and p50, p99.9 when given). The search\n" +
			"brackets exponentially, bisects to --resolution, then probes both ends of\n" +
			"the bracket again for a band. Every probe is kept in run.json and the\n" +
			"answers in plan.json after each probe; Ctrl-C keeps them, and --out of an\n" +
			"existing directory resumes it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(args[0], backends.Names(), cmd, time.Now()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			m := &plan.Measurer{Prober: plan.HarnessProber{Backends: backends}}
			if isTerminal(cmd.ErrOrStderr()) {
				m.Progress = cmd.ErrOrStderr()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plan measure %s: %d configurations into %s\n", o.cfg.Name, len(o.cfg.Setups()), o.out)
			pf, err := m.Measure(ctx, o.cfg, o.obj, o.out)
			if pf != nil && len(pf.Points) > 0 {
				if rerr := plan.WriteReport(o.out, pf, nil, nil, o.cfg); rerr != nil {
					err = errors.Join(err, rerr)
				}
				fmt.Fprintln(cmd.OutOrStdout())
				plan.PrintPlan(cmd.OutOrStdout(), pf)
				fmt.Fprintf(cmd.OutOrStdout(), "\nplan: %s\nreport: %s\n", filepath.Join(o.out, plan.PlanFileName), filepath.Join(o.out, plan.ReportFile))
			}
			if errors.Is(err, plan.ErrInterrupted) {
				fmt.Fprintf(cmd.OutOrStdout(), "interrupted; resume with: adrbench plan measure %s --out %s\n", args[0], o.out)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.sloP99, "slo-p99", 0, "latency objective: p99 in milliseconds (required unless the file sets objective.p99_ms)")
	f.Float64Var(&o.sloP50, "slo-p50", 0, "optional p50 objective in milliseconds")
	f.Float64Var(&o.sloP999, "slo-p999", 0, "optional p99.9 objective in milliseconds")
	f.Float64Var(&o.resolution, "resolution", 0.05, "relative width the bisection stops at")
	f.IntVar(&o.repeats, "repeats", 2, "extra probes at each end of the final bracket")
	f.StringVar(&o.out, "out", "", `run directory; an existing one is resumed (default "results/runs/<UTC time>-<name>")`)
	return cmd
}
