package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/plan"
	"github.com/adrbench/adrbench/plan/model"
)

func planCLI(ctx context.Context, args ...string) (string, error) {
	root := &cobra.Command{Use: "adrbench", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newPlanCmd(catalog.DefaultConfigs().Registry()))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// writeCalibration writes a small made-up calibration: these tests check
// the commands, not this machine's costs.
func writeCalibration(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	q := model.Exponential(0.3e-3, 100).Quantiles
	c := &plan.Calibration{Schema: plan.CalibrationSchema, Cores: 2,
		CPU: plan.CPUCosts{Write: 80e-6, WritePerConn: 20e-6, Gen: 40e-6, Ready: 10e-6, Entry: 3e-6, Apply: 8e-6,
			MsgInproc: 3e-6, ByteInproc: 1e-9, MsgTCP: 5e-6, ByteTCP: 2e-9},
		Envelope: plan.Envelope{MaxNodes: 5, MaxDelayMs: 5, MinValSize: 64, MaxValSize: 1024, MaxClients: 1000, SharedCores: true},
		Saves: []plan.SaveCal{
			{Backend: "batched", Profile: "native", Quantiles: q, CPUCall: 50e-6},
			{Backend: "memory", Profile: "native", Quantiles: []float64{1e-6, 2e-6}},
		},
	}
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPlanPredictWritesTheContract(t *testing.T) {
	cal := writeCalibration(t)
	out := filepath.Join(t.TempDir(), "p")
	stdout, err := planCLI(t.Context(), "plan", "predict", "--calibration", cal, "--slo-p99", "200",
		"--backend", "batched,memory", "--nodes", "1,3", "--net-delay", "0,1ms", "--clients", "64", "--conns", "16",
		"--sim-writes", "600", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	data, err := os.ReadFile(filepath.Join(out, plan.PlanFileName))
	if err != nil {
		t.Fatal(err)
	}
	var pf map[string]any
	if err := json.Unmarshal(data, &pf); err != nil {
		t.Fatal(err)
	}
	if pf["schema"] != plan.PlanSchema || pf["kind"] != plan.KindPredicted {
		t.Fatalf("plan.json head %v %v", pf["schema"], pf["kind"])
	}
	points := pf["points"].([]any)
	if len(points) != 8 {
		t.Fatalf("%d points, want 8", len(points))
	}
	for _, field := range []string{"target", "backend", "nodes", "net_delay_ms", "disk_profile", "cores_per_member", "clients",
		"conns", "val_size", "max_writes_s", "p99_ms_at_max", "low", "high", "bottleneck", "extrapolated"} {
		if _, ok := points[0].(map[string]any)[field]; !ok {
			t.Fatalf("plan.json point lacks %q", field)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, plan.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	answer := strings.Index(string(report), `class="answer"`)
	dump := strings.Index(string(report), "What the plan was made from")
	if answer < 0 || dump < 0 || answer > dump {
		t.Fatalf("report.html does not open with the answer (answer at %d, config at %d)", answer, dump)
	}
	if !strings.Contains(stdout, "--heartbeat-interval 100 --election-timeout 1000") {
		t.Fatalf("no timing advice in:\n%s", stdout)
	}
}

func TestPlanPredictNothingMeetsIsAnAnswer(t *testing.T) {
	cal := writeCalibration(t)
	stdout, err := planCLI(t.Context(), "plan", "predict", "--calibration", cal, "--slo-p99", "200", "--backend", "memory",
		"--nodes", "3", "--clients", "64", "--conns", "16", "--sim-writes", "600", "--need-writes", "1e9",
		"--out", filepath.Join(t.TempDir(), "p"))
	if err != nil {
		t.Fatalf("nothing meeting the need is an answer, not an error: %v", err)
	}
	if !strings.Contains(stdout, "No configuration takes 1000000000 writes/s") || !strings.Contains(stdout, "nearest") {
		t.Fatalf("answer:\n%s", stdout)
	}
}

func TestPlanBadInput(t *testing.T) {
	cal := writeCalibration(t)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, plan.CalibrationFile), []byte(`{"schema":"adrbench.run/v1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	measureCfg := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(measureCfg, []byte("name: m\nbackends: [batched]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"objective zero", []string{"predict", "--calibration", cal, "--slo-p99", "0"}, "p99 objective 0 ms"},
		{"objective negative", []string{"predict", "--calibration", cal, "--slo-p99", "-3"}, "p99 objective -3 ms"},
		{"unknown backend", []string{"predict", "--calibration", cal, "--slo-p99", "10", "--backend", "floppy"}, `unknown backend "floppy"`},
		{"unknown profile", []string{"predict", "--calibration", cal, "--slo-p99", "10", "--disk-profile", "floppy"}, `unknown disk profile "floppy"`},
		{"backend not calibrated", []string{"predict", "--calibration", cal, "--slo-p99", "10", "--backend", "adr"}, "was not calibrated"},
		{"other schema", []string{"predict", "--calibration", other, "--slo-p99", "10"}, `schema "adrbench.run/v1"`},
		{"no calibration", []string{"predict", "--slo-p99", "10"}, "--calibration"},
		{"measure objective", []string{"measure", measureCfg, "--slo-p99", "-1"}, "p99 objective -1 ms"},
		{"validate no run", []string{"validate", "--calibration", cal, t.TempDir()}, "no run.json"},
		{"validate other schema", []string{"validate", "--calibration", other, t.TempDir()}, "adrbench.run/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := planCLI(t.Context(), append([]string{"plan"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (output %q), want one naming %q", err, out, tt.want)
			}
			if strings.Contains(oneLine(err), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}
