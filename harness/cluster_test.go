package harness

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/logbackends/async"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

func testBackends() *logbackends.Registry {
	r := logbackends.NewRegistry()
	r.Register(memory.NewEntry())
	r.Register(batched.NewEntry(batched.DefaultConfig()))
	r.Register(async.NewEntry(async.DefaultConfig()))
	r.Register(adrlog.NewEntry(adrlog.DefaultConfig()))
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// quickCluster is a cluster config with short raft timeouts so tests elect
// a leader fast.
func quickCluster(t *testing.T, target string, nodes int, backend string) ClusterConfig {
	c := DefaultClusterConfig()
	c.Target, c.Nodes, c.LogBackend = target, nodes, backend
	c.DataDir = t.TempDir()
	c.HeartbeatInterval, c.ElectionTimeout = 20*time.Millisecond, 200*time.Millisecond
	return c
}

func TestBenchInproc(t *testing.T) {
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 1, "memory")
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 8, 2, 300
	run := bench(t, cfg, testBackends())
	p := run.Points[0]
	if p.Ops != 300 || p.Errors != 0 {
		t.Fatalf("ops %d errors %d (%v), want 300 and 0", p.Ops, p.Errors, p.ErrorsByCode)
	}
	if p.Target != "inproc" || p.Backend != "memory" || p.Mode != "closed" || p.Throughput <= 0 {
		t.Errorf("point %+v", p)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := results.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	back, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Points[0].Ops != 300 || back.Host.Cores < 1 {
		t.Errorf("read back %+v", back.Points[0])
	}
}

// TestBenchLabels checks that a point says what was emulated and what was
// unsafe, so no figure from an emulated disk or region or a backend that
// is not durable (async, memory) passes for a real, durable one, whether
// the members run in this process or as `adrbench serve` processes.
func TestBenchLabels(t *testing.T) {
	tests := []struct {
		name, target, backend, profile string
		wantEmulated                   string
		wantUnsafe                     bool
	}{
		{"emulated disk", TargetInproc, "batched", "ssd-2015", "disk-profile:ssd-2015", false},
		{"native disk", TargetInproc, "batched", "native", "", false},
		{"async backend", TargetInproc, async.Name, "native", "", true},
		{"memory backend", TargetInproc, memory.Name, "native", "", true},
		{"emulated region", TargetInproc, adrlog.Name, "native", "adr-region:emulated", false},
		{"process: emulated region", TargetProcess, adrlog.Name, "native", "adr-region:emulated", false},
		{"process: emulated region and disk", TargetProcess, adrlog.Name, "hdd", "disk-profile:hdd,adr-region:emulated", false},
		{"process: async backend", TargetProcess, async.Name, "native", "", true},
		{"process: memory backend", TargetProcess, memory.Name, "native", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultBenchConfig()
			cfg.Cluster = quickCluster(t, tt.target, 1, tt.backend)
			// A directory of the target's own, removed with what the
			// backends keep outside it (the adr backend's region on tmpfs).
			cfg.Cluster.DataDir = ""
			cfg.Cluster.DiskProfile = tt.profile
			if tt.target == TargetProcess {
				cfg.Cluster.ServeBinary = serveBinary(t)
			}
			cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 1, 50
			run := bench(t, cfg, testBackends())
			p := run.Points[0]
			if got := strings.Join(p.Emulated, ","); got != tt.wantEmulated {
				t.Errorf("emulated %q, want %q", got, tt.wantEmulated)
			}
			if (p.Unsafe != "") != tt.wantUnsafe {
				t.Errorf("unsafe %q, want set: %v", p.Unsafe, tt.wantUnsafe)
			}
			if p.DiskProfile != tt.profile {
				t.Errorf("disk_profile %q, want %q", p.DiskProfile, tt.profile)
			}
		})
	}
}

// TestWorkloadsAgainstStore runs every workload briefly against one inproc
// member, so each operation is known to work against the store's API.
func TestWorkloadsAgainstStore(t *testing.T) {
	ctx := ctxT(t)
	cl, err := StartCluster(ctx, quickCluster(t, TargetInproc, 1, "memory"), testBackends())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Error(err)
		}
	})
	conns, err := dial(ctx, cl.Endpoints(), nil, 2, "", "")
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workloads.Names() {
		t.Run(name, func(t *testing.T) {
			wc := workloads.DefaultConfig()
			wc.Name, wc.KeySpace, wc.TxnKeys, wc.MaxScan = name, 200, 4, 10
			wc.Serializable = name == workloads.YCSBC
			if name == workloads.Mixed {
				wc.Mix = workloads.Mix{Read: 1, Update: 1, Insert: 1, Scan: 1, RMW: 1, Delete: 1, Txn: 1}
			}
			wl, err := workloads.New(wc)
			if err != nil {
				t.Fatal(err)
			}
			if wc.NeedsLoad() {
				if err := wl.Load(ctx, conns, 4); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Run(ctx, RunConfig{Mode: results.ModeClosed, Clients: 4, Total: 100},
				func(id int) Generator { return wl.Worker(id) }, conns)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 100 || res.Errors != 0 {
				t.Fatalf("ops %d, errors %v", res.Ops, res.ErrorsByCode)
			}
			if name == workloads.Txn {
				st := wl.Stats()
				if st.TxnSucceeded == 0 || st.TxnSucceeded+st.TxnConflicts != 100 {
					t.Errorf("txn stats %+v: want successes and 100 in all", st)
				}
			}
		})
	}
	t.Run("load wrote the key space", func(t *testing.T) {
		resp, err := conns[0].Get(ctx, workloads.Key(0, 8), clientv3.WithRange(workloads.Key(200, 8)), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count < 150 { // deletes and lease expiry may have removed some
			t.Errorf("%d keys in the loaded space", resp.Count)
		}
	})
}

func TestInprocThreeMembersToLeader(t *testing.T) {
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 3, "batched")
	cfg.Cluster.NetDelay = time.Millisecond
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 16, 4, 200
	cfg.ToLeader = true
	run := bench(t, cfg, testBackends())
	p := run.Points[0]
	if p.Ops != 200 || p.Errors != 0 {
		t.Fatalf("ops %d errors %v", p.Ops, p.ErrorsByCode)
	}
	if p.SyncsPerOp <= 0 {
		t.Errorf("syncs per op %v: the batched backend syncs", p.SyncsPerOp)
	}
	if p.NetDelayMs != 1 {
		t.Errorf("net_delay_ms %v, want 1", p.NetDelayMs)
	}
	// Every write crosses a 1 ms link twice (leader to follower and back)
	// before it commits.
	if p.LatencyMs.P50 < 2 {
		t.Errorf("p50 %v ms under 1 ms one-way delay: the delay was not injected", p.LatencyMs.P50)
	}
}

func TestBenchEtcd(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd not on PATH")
	}
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetEtcd, 1, "")
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, 200
	run := bench(t, cfg, nil)
	p := run.Points[0]
	if p.Ops != 200 || p.Errors != 0 || p.Backend != "etcd-wal" {
		t.Fatalf("point %+v", p)
	}
	if p.SyncsPerOp <= 0 || p.ServerCPUS < 0 {
		t.Errorf("syncs per op %v, server CPU %v", p.SyncsPerOp, p.ServerCPUS)
	}
}

func TestClusterConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *ClusterConfig)
		ok   bool
		// field, when set, must be named in the error.
		field string
	}{
		{name: "default", edit: func(c *ClusterConfig) {}, ok: true},
		{name: "unknown target", edit: func(c *ClusterConfig) { c.Target = "cloud" }},
		{name: "external without endpoints", edit: func(c *ClusterConfig) { c.Target = TargetExternal }},
		{name: "external", edit: func(c *ClusterConfig) { c.Target, c.Endpoints = TargetExternal, []string{"a:1"} }, ok: true},
		{name: "endpoints for inproc", edit: func(c *ClusterConfig) { c.Endpoints = []string{"a:1"} }},
		{name: "zero nodes", edit: func(c *ClusterConfig) { c.Nodes = 0 }},
		{name: "loss above 1", edit: func(c *ClusterConfig) { c.NetLoss = 2 }},
		{name: "delay on etcd", edit: func(c *ClusterConfig) { c.Target, c.NetDelay = TargetEtcd, time.Millisecond }, ok: true},
		{name: "delay on process", edit: func(c *ClusterConfig) { c.Target, c.NetDelay = TargetProcess, time.Millisecond }, ok: true},
		{name: "loss on etcd", edit: func(c *ClusterConfig) { c.Target, c.NetLoss = TargetEtcd, 0.01 }, field: "net_loss"},
		{name: "loss on process", edit: func(c *ClusterConfig) { c.Target, c.NetLoss = TargetProcess, 0.01 }, field: "net_loss"},
		{name: "loss on inproc", edit: func(c *ClusterConfig) { c.NetLoss = 0.01 }, ok: true},
		{name: "delay on external", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.NetDelay = TargetExternal, []string{"a:1"}, time.Millisecond
		}, field: "net_delay"},
		{name: "process without backend", edit: func(c *ClusterConfig) { c.Target, c.LogBackend = TargetProcess, "" }, field: "log_backend"},
		{name: "disk profile on process", edit: func(c *ClusterConfig) { c.Target, c.DiskProfile = TargetProcess, "hdd" }, ok: true},
		{name: "disk profile on etcd", edit: func(c *ClusterConfig) { c.Target, c.DiskProfile = TargetEtcd, "hdd" }, field: "disk profile"},
		{name: "short election", edit: func(c *ClusterConfig) { c.ElectionTimeout = c.HeartbeatInterval }},
		{name: "tls on process", edit: func(c *ClusterConfig) { c.Target, c.TLS = TargetProcess, true }, ok: true},
		{name: "tls on etcd", edit: func(c *ClusterConfig) { c.Target, c.TLS = TargetEtcd, true }, ok: true},
		{name: "tls on inproc", edit: func(c *ClusterConfig) { c.TLS = true }, field: "tls"},
		{name: "tls on external", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.TLS, c.CACert, c.Cert, c.Key = TargetExternal, []string{"a:1"}, true, "ca.pem", "c.pem", "k.pem"
		}, ok: true},
		{name: "tls on external without cacert", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.TLS = TargetExternal, []string{"a:1"}, true
		}, field: "cacert"},
		{name: "cacert without tls", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.CACert = TargetExternal, []string{"a:1"}, "ca.pem"
		}, field: "tls is off"},
		{name: "cert without key", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.TLS, c.CACert, c.Cert = TargetExternal, []string{"a:1"}, true, "ca.pem", "c.pem"
		}, field: "cert and key"},
		{name: "tls with peer cuts", edit: func(c *ClusterConfig) { c.Target, c.TLS, c.PeerCuts = TargetProcess, true, true }, field: "peer cuts"},
		{name: "cacert for process", edit: func(c *ClusterConfig) { c.Target, c.TLS, c.CACert = TargetProcess, true, "ca.pem" }, field: "cacert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultClusterConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v", err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate: %v, want it to name %s", err, tc.field)
			}
		})
	}
}

func TestStartClusterEtcdMissing(t *testing.T) {
	c := quickCluster(t, TargetEtcd, 1, "")
	c.EtcdBinary = "no-such-etcd-binary"
	if _, err := StartCluster(ctxT(t), c, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StartCluster: %v, want ErrNotFound", err)
	}
}

func TestParsers(t *testing.T) {
	t.Run("host", func(t *testing.T) {
		h := ProbeHost(context.Background(), t.TempDir())
		if h.Cores < 1 || h.Kernel == "" {
			t.Errorf("host probe %+v", h)
		}
	})
}
