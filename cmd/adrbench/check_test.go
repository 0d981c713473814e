package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrbench/adrbench/check"
)

// TestCheckRejects runs check linearizability with bad flags: each must
// end with one line naming what is wrong and exit 2, before anything
// starts.
func TestCheckRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown fault", []string{"--faults=kill,meteor"}, `--faults: check: unknown fault "meteor" (known: kill, kill-leader, pause`},
		{"no fault", []string{"--faults= ,"}, "--faults: check: unknown fault: no fault named"},
		{"inproc target", []string{"--target=inproc"}, `--target: check: invalid config: "inproc" is not process or etcd`},
		{"unknown backend", []string{"--log-backend=nope"}, `--log-backend: unknown log backend "nope"`},
		{"partition of one member", []string{"--nodes=1", "--faults=partition"}, "fault partition needs at least 3 members"},
		{"no duration", []string{"--duration=0s"}, "duration 0s is not positive"},
		{"election under 5 heartbeats", []string{"--heartbeat-interval=100", "--election-timeout=200"}, "want timeout >= 5 heartbeats"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"check", "linearizability", "--out=" + t.TempDir()}, tc.args...)
			code := run(t.Context(), args, &stdout, &stderr)
			if code != exitNoVerdict {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitNoVerdict, stderr.String())
			}
			if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q, want one line containing %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestCheckRunsEtcd runs a short check of real etcd through the command:
// it prints the operations, the faults and the verdict, exits 0, and
// writes the report and the history.
func TestCheckRunsEtcd(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("SKIPPING: etcd is not on PATH (scripts/test.sh installs it)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"check", "linearizability", "--target=etcd", "--nodes=3",
		"--faults=kill,pause", "--duration=3s", "--seed=3", "--clients=4", "--keys=3",
		"--heartbeat-interval=50", "--election-timeout=500", "--fault-hold=700ms", "--fault-gap=200ms",
		"--op-timeout=1s", "--out=" + out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"linearizability check: etcd, 3 members", "ops: ", "(ok ", "indeterminate ",
		"faults: ", "members: all healthy", "acknowledged writes: ", "verdict: linearizable", "history: " + filepath.Join(out, "history.json")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r check.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != check.ReportSchema || r.Verdict != check.VerdictLinearizable || r.Ops.Total == 0 || len(r.FaultEvents) == 0 {
		t.Errorf("report.json %+v", r)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"any error", errors.New("boom"), 1},
		{"a violation", &exitError{code: exitViolation, err: errCheckFailed}, 1},
		{"no verdict", &exitError{code: exitNoVerdict, err: errors.New("no verdict")}, 2},
		{"wrapped", fmt.Errorf("check: %w", &exitError{code: exitNoVerdict, err: errors.New("x")}), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Fatalf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
