package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/harness/sweep"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/plots"
	"github.com/adrbench/adrbench/results"
)

// sweepOptions are the flags of `adrbench sweep`.
type sweepOptions struct {
	out   string
	quick bool

	cfg  sweep.Config // resolved by Validate
	plan sweep.Plan
}

func (o *sweepOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.out, "out", "", `run directory; an existing one is resumed (default "results/runs/<UTC time>-<name>")`)
	cmd.Flags().BoolVar(&o.quick, "quick", false, "shrink every point (at most 1s or 500 operations) for a smoke run")
}

// Validate loads the config and plans every point, so nothing starts when
// any field is wrong.
func (o *sweepOptions) Validate(path string, backends *logbackends.Registry, now time.Time) error {
	cfg, err := sweep.Load(path)
	if err != nil {
		return err
	}
	if o.quick {
		cfg = cfg.Quick()
	}
	plan, err := sweep.Expand(cfg, sweep.Env{Backends: backends.Names()})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if o.out == "" {
		o.out = filepath.Join("results", "runs", results.DirName(now, cfg.Name))
	}
	o.cfg, o.plan = cfg, plan
	return nil
}

func newSweepCmd(backends *logbackends.Registry) *cobra.Command {
	o := &sweepOptions{}
	cmd := &cobra.Command{
		Use:   "sweep CONFIG.yaml",
		Short: "Run a matrix of benchmark points and write one run directory with figures and a report",
		Long: "Run every point of a sweep config (targets × log backends × cluster sizes ×\n" +
			"network delays × disk profiles × client counts, plus open-loop rate steps)\n" +
			"and write one run directory: run.json (rewritten after every point),\n" +
			"points.csv, .hgrm histograms, the figures (PNG and SVG) and report.html.\n" +
			"The whole config is checked before the first point. Giving --out an existing\n" +
			"run directory resumes it: points it already holds are skipped. Ctrl-C stops\n" +
			"the point in hand, keeps the measured ones and draws their figures.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(args[0], backends, time.Now()); err != nil {
				return err
			}
			return o.run(cmd, args[0], backends)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func (o *sweepOptions) run(cmd *cobra.Command, path string, backends *logbackends.Registry) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout := cmd.OutOrStdout()
	for _, n := range o.plan.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	fmt.Fprintf(stdout, "sweep %s: %d points into %s\n", o.cfg.Name, len(o.plan.Points), o.out)
	r := &sweep.Runner{
		Bench: func(ctx context.Context, b harness.BenchConfig) (*results.Point, results.Header, error) {
			defer tuneGeneratorGC(b.Cluster.Target)()
			return harness.Bench(ctx, b, backends)
		},
		Quick: o.quick,
	}
	if isTerminal(cmd.ErrOrStderr()) {
		r.Progress = cmd.ErrOrStderr()
	}
	out, err := r.Run(ctx, o.cfg, o.plan, o.out)
	if out.Run == nil {
		if errors.Is(err, sweep.ErrInterrupted) {
			fmt.Fprintf(stdout, "interrupted before any point was measured; nothing written\n")
		}
		return err
	}
	printSweepSummary(stdout, out.Run)
	figs, perr := plots.RenderDir(o.out)
	printFigures(stdout, o.out, figs)
	if errors.Is(err, sweep.ErrInterrupted) {
		fmt.Fprintf(stdout, "interrupted: %d of %d points are in %s; resume with: adrbench sweep %s --out %s%s\n",
			len(out.Run.Points), len(o.plan.Points), o.out, path, o.out, quickFlag(o.quick))
	}
	return errors.Join(err, perr)
}

func quickFlag(q bool) string {
	if q {
		return " --quick"
	}
	return ""
}

// printSweepSummary lists every point in one line, the way the figures
// group them.
func printSweepSummary(w io.Writer, run *results.Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tbackend\tnodes\tdelay ms\tdisk\tmode\tclients\tops/s\tp50 ms\tp99 ms\terrors\t")
	for _, p := range run.Points {
		backend := p.Backend
		if p.Unsafe != "" {
			backend += " (unsafe)"
		}
		if len(p.Emulated) > 0 {
			backend += " (emulated)"
		}
		mode := p.Mode
		if p.Mode == results.ModeOpen {
			mode = fmt.Sprintf("open@%g", p.RateOpsS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%g\t%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t\n", p.Target, backend, p.Nodes,
			p.NetDelayMs, p.DiskProfile, mode, p.Clients, p.Throughput, p.LatencyMs.P50, p.LatencyMs.P99, p.Errors)
	}
	tw.Flush()
}

func printFigures(w io.Writer, dir string, figs []plots.Figure) {
	for _, f := range figs {
		if f.Skipped != "" {
			fmt.Fprintf(w, "figure %s not drawn: %s\n", f.Name, f.Skipped)
		}
	}
	if len(figs) > 0 {
		fmt.Fprintf(w, "report: %s\n", filepath.Join(dir, plots.ReportFile))
	}
}

func newPlotCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plot RUN_DIR",
		Short: "Redraw a run directory's figures and report.html from its run.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			figs, err := plots.RenderDir(args[0])
			if err != nil {
				return err
			}
			for _, f := range figs {
				if f.Skipped == "" {
					fmt.Fprintf(cmd.OutOrStdout(), "figure %s: %s\n", f.Name, filepath.Join(args[0], f.Files[0]))
				}
			}
			printFigures(cmd.OutOrStdout(), args[0], figs)
			return nil
		},
	}
}
