package check

import (
	"os"
	"testing"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/internal/testbin"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/catalog"
)

// adrbench is cmd/adrbench, built on the first test that needs it.
var adrbench testbin.Build

func TestMain(m *testing.M) { os.Exit(adrbench.Run(m)) }

func serveBinary(t *testing.T) string { return adrbench.Adrbench(t) }

func needEtcd(t *testing.T) { testbin.Tool(t, "etcd") }

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
