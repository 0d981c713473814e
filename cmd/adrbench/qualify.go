package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
	"github.com/adrbench/adrbench/qualify"
	"github.com/adrbench/adrbench/results"
)

// qualifyOptions are the flags of `adrbench qualify`.
type qualifyOptions struct {
	dir        string
	profile    string
	peers      string
	quick      bool
	out        string
	logBackend string
	skip       []string

	cfg qualify.Config // resolved by Validate
}

func (o *qualifyOptions) AddFlags(cmd *cobra.Command, backends *logbackends.Registry) {
	d := qualify.DefaultConfig()
	fs := cmd.Flags()
	fs.StringVar(&o.dir, "dir", d.Dir, "`DIR` to qualify (the future data directory's file system); nothing is left in it")
	fs.StringVar(&o.profile, "profile", qualify.ProfileEtcd, "thresholds: "+strings.Join(qualify.ProfileNames(), ", ")+", or a YAML file (see configs/qualify-etcd.yaml)")
	fs.StringVar(&o.peers, "peers", "", "comma-separated `HOST:PORT` list of the responders (adrbench qualify serve) on the other members")
	fs.BoolVar(&o.quick, "quick", false, "shorter measurements: the whole run within 2 minutes on 2 cores (a full run takes under 10)")
	fs.StringVar(&o.out, "out", "", `output directory for qualify.json, histograms and report.html (default "results/qualify/<UTC time>-<hostname>")`)
	fs.StringVar(&o.logBackend, "log-backend", d.LogBackend, "log backend of the end-to-end member: "+strings.Join(backends.Names(), ", "))
	fs.StringSliceVar(&o.skip, "skip", nil, "check groups not to run: "+strings.Join(qualify.Groups(), ", "))
}

// Validate resolves the flags into a qualify.Config: the profile is loaded
// and every peer address resolved, so a typo stops qualification before
// it measures anything.
func (o *qualifyOptions) Validate(ctx context.Context, backends *logbackends.Registry, now time.Time) error {
	prof, err := qualify.LoadProfile(o.profile)
	if err != nil {
		return err
	}
	peers, err := qualify.ParsePeers(o.peers)
	if err != nil {
		return fmt.Errorf("--peers: %w", err)
	}
	if err := qualify.ResolvePeers(ctx, peers); err != nil {
		return fmt.Errorf("--peers: %w", err)
	}
	if !slices.Contains(backends.Names(), o.logBackend) {
		return fmt.Errorf("--log-backend %q (known: %s)", o.logBackend, strings.Join(backends.Names(), ", "))
	}
	if o.out == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "server"
		}
		o.out = filepath.Join("results", "qualify", results.DirName(now, host))
	}
	if err := qualify.CheckDir(o.dir); err != nil {
		return err
	}
	cfg := qualify.DefaultConfig()
	cfg.Dir, cfg.Profile, cfg.Peers, cfg.Quick, cfg.Out = o.dir, prof, peers, o.quick, o.out
	cfg.LogBackend, cfg.Skip, cfg.Backends = o.logBackend, o.skip, backends
	if err := cfg.Validate(); err != nil {
		return err
	}
	o.cfg = cfg
	return nil
}

// qualifyEnv is what the command takes from its surroundings; tests give
// it a slow file system or an adrbench binary to start.
type qualifyEnv struct {
	fs          vfs.FS
	serveBinary string
	limits      qualify.Limits
	tiers       []qualify.Tier
}

func newQualifyCmd(backends *logbackends.Registry) *cobra.Command {
	return newQualifyCmdWith(backends, qualifyEnv{})
}

func newQualifyCmdWith(backends *logbackends.Registry, env qualifyEnv) *cobra.Command {
	o := &qualifyOptions{}
	cmd := &cobra.Command{
		Use:   "qualify",
		Short: "Qualify this server for an etcd-style cluster: disk, persistent memory, CPU, memory, network, clock, end to end",
		Long: "Measure this server and give one verdict. Every check has a value, a threshold\n" +
			"from the profile, a verdict (pass, warn, fail, or skip with the reason) and the\n" +
			"source of its threshold; the verdict is the worst check's. Writes qualify.json\n" +
			"(schema adrbench.qualify/v1), the raw histograms and report.html to --out.\n\n" +
			"Exit code: 0 pass or warn, 1 fail, 2 qualification could not run.\n\n" +
			"On the other members run `adrbench qualify serve --listen :PORT` and list them\n" +
			"in --peers; compare several servers' results with `adrbench qualify compare`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(cmd.Context(), backends, time.Now()); err != nil {
				return cannotRun(err)
			}
			return o.run(cmd, env)
		},
	}
	o.AddFlags(cmd, backends)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cannotRun(err) })
	cmd.AddCommand(newQualifyServeCmd(), newQualifyCompareCmd())
	return cmd
}

func (o *qualifyOptions) run(cmd *cobra.Command, env qualifyEnv) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout := cmd.OutOrStdout()
	cfg := o.cfg
	cfg.FS, cfg.ServeBinary, cfg.Limits, cfg.Tiers = env.fs, env.serveBinary, env.limits, env.tiers
	if isTerminal(cmd.ErrOrStderr()) {
		cfg.Progress = cmd.ErrOrStderr()
	}
	table := qualify.NewTable(stdout)
	cfg.OnCheck = table.Row
	printQualifyPlan(stdout, cfg)
	rep, err := qualify.Run(ctx, cfg)
	if err != nil {
		return cannotRun(err)
	}
	qualify.PrintVerdict(stdout, rep)
	fmt.Fprintf(stdout, "results: %s (%s, %s)\n", cfg.Out, qualify.ResultFile, qualify.ReportFile)
	if rep.Verdict == qualify.Fail {
		var names []string
		for _, c := range rep.Failing() {
			if c.Verdict == qualify.Fail {
				names = append(names, c.Key())
			}
		}
		return &exitError{code: 1, err: fmt.Errorf("qualification failed: %s", strings.Join(names, ", "))}
	}
	return nil
}

// printQualifyPlan says what will be measured and for how long.
func printQualifyPlan(w io.Writer, cfg qualify.Config) {
	d := cfg.Limits
	kind := "full"
	if d == (qualify.Limits{}) {
		d = qualify.FullLimits()
		if cfg.Quick {
			d, kind = qualify.QuickLimits(), "quick"
		}
	}
	fmt.Fprintf(w, "adrbench qualify (%s): profile %s, dir %s", kind, cfg.Profile.Name, cfg.Dir)
	if len(cfg.Peers) > 0 {
		fmt.Fprintf(w, ", peers %s", strings.Join(cfg.Peers, ","))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  disk: %d rounds of etcd's WAL pattern (Go and fio interleaved), %v each; 8000-byte pattern %v; commit pattern %v\n",
		d.DiskRounds, d.DiskRound, d.Disk8k, d.Commit)
	fmt.Fprintf(w, "  cpu: write capacity for %v; net: %d probes %v apart, throughput %v each way\n", d.CPU, d.NetProbes, d.NetInterval, d.NetThroughput)
	fmt.Fprintf(w, "  e2e: check perf's tiers s, m, l, xl on the %s backend, %v each after %v of warm-up\n", cfg.LogBackend, d.E2ETier, d.E2EWarmup)
	if len(cfg.Skip) > 0 {
		fmt.Fprintf(w, "  skipped: %s\n", strings.Join(cfg.Skip, ", "))
	}
	fmt.Fprintln(w)
}

func newQualifyServeCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR",
		Short: "Answer the network checks of `adrbench qualify --peers` run on another server",
		Long: "Listen on ADDR (host:port) and answer round-trip and throughput probes until\n" +
			"interrupted. Each client is dropped after 30 s of silence and every connection\n" +
			"ends after 10 minutes; at most 32 are answered at once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				return cannotRun(errors.New("--listen is required (host:port, e.g. :2390)"))
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return cannotRun(fmt.Errorf("--listen %s: %w", listen, err))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "adrbench qualify serve: listening on %s; Ctrl-C stops\n", ln.Addr())
			return qualify.Serve(ctx, ln, qualify.DefaultServeOptions())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on, host:port")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cannotRun(err) })
	return cmd
}

func newQualifyCompareCmd() *cobra.Command {
	var (
		out    string
		factor float64
	)
	cmd := &cobra.Command{
		Use:   "compare DIR...",
		Short: "Put several servers' qualify results side by side and flag outliers",
		Long: "Read the qualify.json of every DIR, print one row per check and one column per\n" +
			"server, and flag figures at least --factor times worse than the fleet's median\n" +
			"(for example a disk whose fdatasync p99 is 3x the others'). Writes fleet.json,\n" +
			"a figure and compare.html to --out.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := qualify.Compare(args, factor)
			if err != nil {
				return cannotRun(err)
			}
			if out == "" {
				out = filepath.Join("results", "qualify", results.DirName(time.Now(), "compare"))
			}
			qualify.PrintFleet(cmd.OutOrStdout(), f)
			if err := qualify.WriteFleet(out, f); err != nil {
				return cannotRun(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(out, qualify.FleetReportFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", `output directory (default "results/qualify/<UTC time>-compare")`)
	cmd.Flags().Float64Var(&factor, "factor", qualify.DefaultOutlierFactor, "a figure this many times worse than the fleet median is an outlier")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cannotRun(err) })
	return cmd
}

// cannotRun marks err as "qualification could not run": exit code 2.
func cannotRun(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 2, err: err}
}
