package check

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/internal/lossyfs"
)

// The short version below runs in CI; these make it a soak.
const (
	// runsEnv sets how many runs (each with its own seed) every target
	// gets in TestLinearizable; the default is 2.
	runsEnv = "ADRBENCH_CHECK_RUNS"
	// durationEnv sets how long each run's clients and faults last; the
	// default is 5s.
	durationEnv = "ADRBENCH_CHECK_DURATION"
	// faultsEnv sets TestLinearizable's faults; the default is
	// kill,pause,partition.
	faultsEnv = "ADRBENCH_CHECK_FAULTS"
)

// soak reads the soak settings, or the short version's defaults.
func soak(t *testing.T) (runs int, d time.Duration, faults []string) {
	t.Helper()
	runs, d, faults = 2, 5*time.Second, []string{FaultKill, FaultPause, FaultPartition}
	if s := os.Getenv(runsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of runs", runsEnv, s)
		}
		runs = n
	}
	if s := os.Getenv(durationEnv); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			t.Fatalf("%s=%q: want a positive duration", durationEnv, s)
		}
		d = v
	}
	if s := os.Getenv(faultsEnv); s != "" {
		f, err := ParseFaults(s)
		if err != nil {
			t.Fatalf("%s: %v", faultsEnv, err)
		}
		faults = f
	}
	return runs, d, faults
}

// runCheck runs cfg into a run directory that is kept, and named, when
// the test fails; the report goes to the test's log.
func runCheck(t *testing.T, cfg Config) *Report {
	t.Helper()
	dir, err := os.MkdirTemp("", "adrbench-check-")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = dir
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run directory kept: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	r, err := Run(t.Context(), cfg, testBackends())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.Print(&buf)
	t.Log("\n" + buf.String())
	return r
}

type checkTarget struct{ name, target, backend string }

// checkTargets are every durable backend of ours and real etcd, the
// control.
func checkTargets() []checkTarget {
	return []checkTarget{
		{"backend=batched", harness.TargetProcess, "batched"},
		{"backend=fsync", harness.TargetProcess, "fsync"},
		{"backend=adr", harness.TargetProcess, "adr"},
		{"etcd", harness.TargetEtcd, ""},
	}
}

// TestLinearizable runs the check on 3-member clusters of every durable
// backend, and of real etcd, under kill, pause and partition faults, a
// few seeds each: every history must be linearizable, every fault healed,
// every member healthy again and every acknowledged write still there.
// The targets of one round run at once: the runs spend most of their time
// waiting for elections, restarts and held faults, not on the CPU.
func TestLinearizable(t *testing.T) {
	t.Parallel()
	runs, d, faults := soak(t)
	targets := checkTargets()
	for run := range runs {
		concurrently(t, len(targets), func(i int) (string, func(t *testing.T)) {
			tg := targets[i]
			seed := uint64(1 + run*len(targets) + i)
			return fmt.Sprintf("%s/seed=%d", tg.name, seed), func(t *testing.T) {
				r := runCheck(t, quickConfig(t, tg.target, tg.backend, faults, seed, d))
				if !r.Passed() {
					t.Fatalf("check failed: verdict %s, healthy %v, acknowledged writes %s, %d faults failed",
						r.Verdict, r.Healthy, r.Acked, r.FaultErrors())
				}
				if len(r.FaultEvents) == 0 || r.Acked.Writes == 0 || r.Ops.ByKind[OpGet] == 0 || r.Ops.ByKind[OpTxnGet] == 0 {
					t.Fatalf("the run proves little: %d faults, %d acknowledged writes, %d gets, %d txn-gets",
						len(r.FaultEvents), r.Acked.Writes, r.Ops.ByKind[OpGet], r.Ops.ByKind[OpTxnGet])
				}
			}
		})
	}
}

// concurrently runs n subtests at once (t.Run may be called from several
// goroutines), whatever -parallel says, and returns when all are done.
func concurrently(t *testing.T, n int, sub func(i int) (string, func(t *testing.T))) {
	var wg sync.WaitGroup
	for i := range n {
		name, fn := sub(i)
		wg.Go(func() { t.Run(name, fn) })
	}
	wg.Wait()
}

// TestCatchesStaleReads runs the check on members whose followers answer
// linearizable reads from their own state (a test-only switch of serve),
// while members are cut off one at a time: a cut-off follower, or a
// deposed leader, keeps answering reads with values the majority has
// overwritten, and the check must say so and keep the evidence. One key,
// long cuts and a short operation timeout make sure that the clients of a
// cut-off member read the key the majority writes, many times per cut.
func TestCatchesStaleReads(t *testing.T) {
	t.Parallel()
	seeds := []uint64{1, 2}
	concurrently(t, len(seeds), func(i int) (string, func(t *testing.T)) {
		return fmt.Sprintf("seed=%d", seeds[i]), func(t *testing.T) {
			cfg := quickConfig(t, harness.TargetProcess, "batched", []string{FaultIsolate}, seeds[i], 5*time.Second)
			cfg.Cluster.ServeFlags = []string{"--unsafe-test-stale-reads"}
			cfg.Keys, cfg.FaultHold, cfg.OpTimeout = 1, 2*time.Second, 300*time.Millisecond
			r := runCheck(t, cfg)
			if r.Verdict != VerdictViolation || r.Passed() {
				t.Fatalf("verdict %s on a server that serves stale reads, want %s", r.Verdict, VerdictViolation)
			}
			for _, f := range []string{r.History, r.Visualization, filepath.Join(r.Dir, reportFile)} {
				if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
					t.Errorf("evidence of the violation %q missing: %v", f, err)
				}
			}
		}
	})
}

// TestDiskStalls checks our members and etcd's under stalls of a
// member's disk, the leader's among them.
func TestDiskStalls(t *testing.T) {
	if err := lossyfs.Available(); err != nil {
		t.Skipf("SKIPPING the disk-stall check, which mounts a FUSE file system: %v", err)
	}
	t.Parallel()
	targets := []checkTarget{checkTargets()[0], checkTargets()[3]}
	concurrently(t, len(targets), func(i int) (string, func(t *testing.T)) {
		tg := targets[i]
		return tg.name, func(t *testing.T) {
			r := runCheck(t, quickConfig(t, tg.target, tg.backend, []string{FaultStall, FaultStallLeader}, 7, 4*time.Second))
			if !r.Passed() || len(r.FaultEvents) == 0 {
				t.Fatalf("check failed or injected nothing: verdict %s, healthy %v, acknowledged writes %s, %d faults (%d failed)",
					r.Verdict, r.Healthy, r.Acked, len(r.FaultEvents), r.FaultErrors())
			}
		}
	})
}
