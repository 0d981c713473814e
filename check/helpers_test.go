package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/catalog"
)

// adrbenchBin builds cmd/adrbench once per test binary, on the first test
// that needs it.
var adrbenchBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "adrbench-check-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "adrbench")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/adrbench/adrbench/cmd/adrbench").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := adrbenchBin(); err == nil && bin != "" {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func serveBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("SKIPPING: the go toolchain is not on PATH, so adrbench cannot be built for the process target")
	}
	bin, err := adrbenchBin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func needEtcd(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("SKIPPING: etcd is not on PATH (scripts/test.sh installs it)")
	}
}

func testBackends() *logbackends.Registry { return catalog.DefaultConfigs().Registry() }

// quickConfig is a short check of a 3-member cluster of target (with
// backend for the process target) under faults, with quick raft timing
// so that faults cause elections within a short run.
func quickConfig(t *testing.T, target, backend string, faults []string, seed uint64, d time.Duration) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Cluster.Target, cfg.Cluster.Nodes = target, 3
	cfg.Cluster.HeartbeatInterval, cfg.Cluster.ElectionTimeout = 50*time.Millisecond, 500*time.Millisecond
	switch target {
	case harness.TargetProcess:
		cfg.Cluster.LogBackend = backend
		cfg.Cluster.ServeBinary = serveBinary(t)
	case harness.TargetEtcd:
		needEtcd(t)
		cfg.Cluster.LogBackend = ""
	}
	cfg.Faults, cfg.Seed, cfg.Duration = faults, seed, d
	cfg.Clients, cfg.Keys = 6, 4
	cfg.OpTimeout = time.Second
	cfg.FaultHold, cfg.FaultGap = time.Second, 300*time.Millisecond
	cfg.Recover = 30 * time.Second
	cfg.CheckTimeout = 30 * time.Second
	cfg.Out = t.TempDir()
	return cfg
}
