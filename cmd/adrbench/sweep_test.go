package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/harness/sweep"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/plots"
	"github.com/adrbench/adrbench/results"
)

// sweepCLI runs the sweep and plot commands under a root of their own, so
// the tests do not depend on main.go wiring them in.
func sweepCLI(ctx context.Context, args ...string) (string, error) {
	root := &cobra.Command{Use: "adrbench", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newSweepCmd(catalog.DefaultConfigs().Registry()), newPlotCmd())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const tinySweep = `name: tiny
backends: [memory]
nodes: [1]
clients:
  - {clients: 4, conns: 2}
total: 200
workload:
  val_size: 64
cluster:
  heartbeat_interval: 20ms
  election_timeout: 200ms
`

func TestSweepAndPlot(t *testing.T) {
	cfg := writeConfig(t, tinySweep)
	dir := filepath.Join(t.TempDir(), "run")
	out, err := sweepCLI(t.Context(), "sweep", cfg, "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"sweep tiny: 1 points into " + dir, "memory", "report: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{results.RunFile, results.PointsFile, plots.ReportFile, "throughput-vs-nodes.png", "throughput-vs-nodes.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// A second run resumes: nothing left to measure.
	out, err = sweepCLI(t.Context(), "sweep", cfg, "--out", dir)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if r, err := results.Read(dir); err != nil || len(r.Points) != 1 {
		t.Fatalf("after resume: %v points, %v", len(r.Points), err)
	}

	if err := os.Remove(filepath.Join(dir, plots.ReportFile)); err != nil {
		t.Fatal(err)
	}
	out, err = sweepCLI(t.Context(), "plot", dir)
	if err != nil || !strings.Contains(out, "report: ") {
		t.Fatalf("plot: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, plots.ReportFile)); err != nil {
		t.Fatal(err)
	}
}

func TestSweepRejectsBeforeStarting(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown field", tinySweep + "colour: blue\n", []string{"line 12", "colour"}},
		{"bad value", strings.Replace(tinySweep, "nodes: [1]", "nodes: [1, 99]", 1), []string{"sweep.yaml:3", "nodes[1]"}},
		{"unknown backend", strings.Replace(tinySweep, "[memory]", "[memory, tape]", 1), []string{"backends[1]", "tape"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			_, err := sweepCLI(t.Context(), "sweep", writeConfig(t, tt.yaml), "--out", dir)
			if !errors.Is(err, sweep.ErrConfig) {
				t.Fatalf("err = %v, want sweep.ErrConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a bad config created %s", dir)
			}
		})
	}
}

func TestSweepInterruptedSaysHowToResume(t *testing.T) {
	cfg := writeConfig(t, tinySweep)
	dir := filepath.Join(t.TempDir(), "run")
	// A first run measures the one point; a second with one more client
	// count is interrupted before it starts: the kept point is redrawn
	// and the output says how to resume.
	if out, err := sweepCLI(t.Context(), "sweep", cfg, "--out", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	more := writeConfig(t, strings.Replace(tinySweep, "clients:\n", "clients:\n  - {clients: 8, conns: 2}\n", 1))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out, err := sweepCLI(ctx, "sweep", more, "--out", dir)
	if !errors.Is(err, sweep.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted\n%s", err, out)
	}
	if !strings.Contains(out, "interrupted: 1 of 2 points") || !strings.Contains(out, "resume with: adrbench sweep "+more+" --out "+dir) {
		t.Fatalf("output does not say how to resume:\n%s", out)
	}
}

// TestSweepSummaryLabels: the summary marks a point whose backend is not
// durable, and one measured on something emulated, as the report does.
func TestSweepSummaryLabels(t *testing.T) {
	tests := []struct {
		name  string
		point results.Point
		want  string
	}{
		{"durable, real", results.Point{Backend: "batched"}, " batched "},
		{"unsafe", results.Point{Backend: "async", Unsafe: "async is not durable"}, " async (unsafe) "},
		{"emulated region", results.Point{Backend: "adr", Emulated: []string{"adr-region:emulated"}}, " adr (emulated) "},
		{"both", results.Point{Backend: "memory", Unsafe: "x", Emulated: []string{"disk-profile:hdd"}}, " memory (unsafe) (emulated) "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := tt.point
			p.Target, p.Mode = "inproc", results.ModeClosed
			printSweepSummary(&out, &results.Run{Points: []results.Point{p}})
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("summary\n%s\ndoes not say %q", &out, tt.want)
			}
		})
	}
}
