package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/vfs"
	"github.com/adrbench/adrbench/qualify"
)

// testLimits keep every measurement short.
func testLimits() qualify.Limits {
	return qualify.Limits{
		DiskRounds: 2, DiskRound: 150 * time.Millisecond, WALBytes: 1 << 20, WAL8kBytes: 1 << 20,
		Disk8k: 100 * time.Millisecond, Commit: 100 * time.Millisecond, CommitFile: 1 << 20,
		PMemFlushes: 1000, CPU: 300 * time.Millisecond,
		NetProbes: 20, NetInterval: time.Millisecond, NetTimeout: 2 * time.Second, NetThroughput: 100 * time.Millisecond,
		E2ETier: 500 * time.Millisecond, E2EWarmup: 100 * time.Millisecond,
	}
}

// qualifyCLI runs `adrbench qualify ARGS` under a root of its own and
// returns what it printed and the exit code main would return.
func qualifyCLI(ctx context.Context, env qualifyEnv, args ...string) (stdout, stderr string, code int) {
	root := &cobra.Command{Use: "adrbench", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newQualifyCmdWith(catalog.DefaultConfigs().Registry(), env))
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"qualify"}, args...))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(&errOut, "adrbench: %s\n", oneLine(err))
		return out.String(), errOut.String(), exitCode(err)
	}
	return out.String(), errOut.String(), 0
}

// skipAllBut lists every check group except keep for --skip.
func skipAllBut(keep ...string) string {
	var skip []string
	for _, g := range qualify.Groups() {
		if !contains(keep, g) {
			skip = append(skip, g)
		}
	}
	return strings.Join(skip, ",")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func unwritable(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		return dir
	}
	f.Close()
	os.Remove(f.Name())
	// Root ignores permissions; sysfs refuses new directories to anyone.
	d, err := os.MkdirTemp("/sys", "probe")
	if err != nil {
		return "/sys"
	}
	os.Remove(d)
	t.Skip("running as root with no directory that refuses writes")
	return ""
}

// TestQualifyBadInput checks that input qualification cannot run with
// ends in exit code 2 and one line naming what is wrong, before anything
// is measured.
func TestQualifyBadInput(t *testing.T) {
	tmp := t.TempDir()
	badField := filepath.Join(tmp, "bad.yaml")
	if err := os.WriteFile(badField, []byte("name: mine\nthresholds:\n  disk.commit_p99:\n    fial: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing --dir", []string{"--dir", missing}, []string{missing, "does not exist"}},
		{"unwritable --dir", []string{"--dir", unwritable(t)}, []string{"is not writable"}},
		{"unknown profile", []string{"--profile", "kubernetes"}, []string{`"kubernetes"`, "neither a built-in profile"}},
		{"unknown field in a profile", []string{"--profile", badField}, []string{"bad.yaml", "line 4", `unknown field "fial"`}},
		{"peer without a port", []string{"--peers", "10.0.0.2"}, []string{"--peers", `"10.0.0.2"`, "host:port"}},
		{"peer port out of range", []string{"--peers", "10.0.0.2:2390,10.0.0.3:99999"}, []string{`"10.0.0.3:99999"`, "1..65535"}},
		{"peer without a host", []string{"--peers", ":2390"}, []string{`":2390"`, "host is empty"}},
		{"peer that does not resolve", []string{"--peers", "no-such-host.invalid:2390"}, []string{"no-such-host.invalid", "cannot resolve"}},
		{"unknown group to skip", []string{"--skip", "gpu"}, []string{`skip "gpu"`}},
		{"unknown log backend", []string{"--log-backend", "tape"}, []string{`--log-backend "tape"`}},
		{"unknown flag", []string{"--fast"}, []string{"--fast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--dir", dir, "--out", filepath.Join(t.TempDir(), "out")}, tt.args...)
			stdout, stderr, code := qualifyCLI(t.Context(), qualifyEnv{limits: testLimits()}, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if n := strings.Count(stderr, "\n"); n != 1 {
				t.Fatalf("stderr has %d lines, want one: %q", n, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("printed before failing: %q", stdout)
			}
			assertEmptyDir(t, dir)
		})
	}
}

// TestQualifyExitCodeThroughMain checks main's wiring: the command is
// registered and its exit codes reach the process.
func TestQualifyExitCodeThroughMain(t *testing.T) {
	var out, errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "missing")
	if code := run(t.Context(), []string{"qualify", "--dir", missing}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errOut.String())
	}
	if !strings.HasPrefix(errOut.String(), "adrbench: ") || !strings.Contains(errOut.String(), missing) {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// TestQualifySlowDiskExitsOne slows every sync by 15 ms through the vfs:
// the disk checks fail with the measured p99 and the command exits 1.
func TestQualifySlowDiskExitsOne(t *testing.T) {
	slow, err := diskprofile.Fixed(15 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	env := qualifyEnv{fs: diskprofile.Wrap(vfs.OS{}, slow), limits: testLimits()}
	stdout, stderr, code := qualifyCLI(t.Context(), env, "--dir", dir, "--out", out, "--skip", skipAllBut(qualify.GroupDisk))
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "qualification failed: disk.wal_fdatasync_p99") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q", stderr)
	}
	for _, want := range []string{"disk.wal_fdatasync_p99", "FAIL", "verdict: FAIL", "etcd FAQ: WAL fsync p99 < 10 ms", "results: " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	rep, err := qualify.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := rep.Check("disk.wal_fdatasync_p99")
	if !ok || c.Verdict != qualify.Fail || c.Value < 15 {
		t.Fatalf("%+v", c)
	}
	assertEmptyDir(t, dir)
}

// TestQualifyServeAndPeers starts `qualify serve` on loopback and
// qualifies against it: the result has the peer's RTT.
func TestQualifyServeAndPeers(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	root := &cobra.Command{Use: "adrbench", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newQualifyCmd(catalog.DefaultConfigs().Registry()))
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"qualify", "serve", "--listen", "127.0.0.1:0"})
	served := make(chan error, 1)
	go func() {
		served <- root.ExecuteContext(ctx)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	_, rest, ok := strings.Cut(line, "listening on ")
	if !ok {
		t.Fatalf("serve printed %q", line)
	}
	addr, _, _ := strings.Cut(rest, ";")

	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := qualifyCLI(t.Context(), qualifyEnv{limits: testLimits()},
		"--dir", dir, "--out", out, "--peers", addr, "--skip", skipAllBut(qualify.GroupNet))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	rep, err := qualify.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := rep.Check("net.rtt_p99@" + addr)
	if !ok || c.Verdict != qualify.Pass || !(c.Value > 0) {
		t.Fatalf("RTT to %s: %+v", addr, c)
	}
	if !strings.Contains(stdout, "net.rtt_p99 "+addr) {
		t.Errorf("table lacks the peer's RTT:\n%s", stdout)
	}
}

func TestQualifyServeNeedsListen(t *testing.T) {
	_, stderr, code := qualifyCLI(t.Context(), qualifyEnv{}, "serve")
	if code != 2 || !strings.Contains(stderr, "--listen is required") {
		t.Fatalf("exit %d: %q", code, stderr)
	}
}

// TestQualifyCompare compares three servers' results, one with a slow
// disk, through the command. The results are made with qualify.Run and
// written as qualify.json alone: drawing their figures is not what is
// tested here and takes seconds under the race detector.
func TestQualifyCompare(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for _, s := range []struct {
		name string
		sync time.Duration
	}{{"a", time.Millisecond}, {"b", time.Millisecond}, {"slow", 200 * time.Millisecond}} {
		prof, err := diskprofile.Fixed(s.sync)
		if err != nil {
			t.Fatal(err)
		}
		cfg := qualify.DefaultConfig()
		cfg.Dir, cfg.Limits, cfg.Backends = t.TempDir(), testLimits(), catalog.DefaultConfigs().Registry()
		cfg.FS = diskprofile.Wrap(vfs.NewMem(), prof)
		cfg.Skip = strings.Split(skipAllBut(qualify.GroupDisk), ",")
		rep, err := qualify.Run(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		out := filepath.Join(root, s.name)
		js, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, qualify.ResultFile), js, 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, out)
	}
	fleet := filepath.Join(root, "fleet")
	stdout, stderr, code := qualifyCLI(t.Context(), qualifyEnv{}, append([]string{"compare", "--out", fleet}, dirs...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "! ") || !strings.Contains(stdout, "(slow): disk.wal_fdatasync_p99") {
		t.Fatalf("the slow disk is not flagged:\n%s", stdout)
	}
	if strings.Contains(stdout, "(a): ") || strings.Contains(stdout, "(b): ") {
		t.Errorf("a normal disk flagged:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(fleet, qualify.FleetReportFile)); err != nil {
		t.Error(err)
	}
	if _, stderr, code := qualifyCLI(t.Context(), qualifyEnv{}, "compare", t.TempDir()); code != 2 || !strings.Contains(stderr, "has no qualify.json") {
		t.Errorf("compare of a directory without results: exit %d, %q", code, stderr)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}
