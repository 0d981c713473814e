package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/testbin"
)

// adrbench is cmd/adrbench, built on the first test that needs it, so
// tests that do not run the process target pay nothing.
var adrbench testbin.Build

func TestMain(m *testing.M) { os.Exit(adrbench.Run(m)) }

func serveBinary(t *testing.T) string { return adrbench.Adrbench(t) }

func needEtcd(t *testing.T) { testbin.Tool(t, "etcd") }

// faultTargets are the targets that start members, each as a 3-member
// cluster with quick timing.
func faultTargets(t *testing.T) []struct {
	name string
	cfg  func(t *testing.T) ClusterConfig
} {
	return []struct {
		name string
		cfg  func(t *testing.T) ClusterConfig
	}{
		{"inproc", func(t *testing.T) ClusterConfig { return quickCluster(t, TargetInproc, 3, "batched") }},
		{"process", func(t *testing.T) ClusterConfig {
			c := quickCluster(t, TargetProcess, 3, "batched")
			c.ServeBinary = serveBinary(t)
			return c
		}},
		{"etcd", func(t *testing.T) ClusterConfig {
			needEtcd(t)
			return quickCluster(t, TargetEtcd, 3, "")
		}},
	}
}

// TestFaultKillLeader kills the leader while a writer runs, restarts it,
// and checks that every member ends up with every acknowledged key.
func TestFaultKillLeader(t *testing.T) {
	for _, tc := range faultTargets(t) {
		t.Run(tc.name, func(t *testing.T) {
			// Mostly waiting on elections and restarts: the targets
			// overlap well even on two cores.
			t.Parallel()
			ctx := ctxT(t)
			cl, err := StartCluster(ctx, tc.cfg(t), testBackends())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := cl.Close(); err != nil {
					t.Error(err)
				}
			})
			f, ok := cl.(Faulter)
			if !ok {
				t.Fatalf("%T is not a Faulter", cl)
			}
			cli := quietClient(t, cl.Endpoints())

			w := startWriter(ctx, cli)
			w.waitAcked(t, 20)
			lead, err := f.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Kill(ctx, lead); err != nil {
				t.Fatal(err)
			}
			if next, err := f.Leader(ctx); err != nil || next == lead {
				t.Fatalf("leader after killing %d: %d, %v", lead, next, err)
			}
			w.waitAcked(t, w.acked()+20) // the survivors take writes
			if err := f.Restart(ctx, lead); err != nil {
				t.Fatal(err)
			}
			w.waitAcked(t, w.acked()+20)
			// A clean stop and restart of another member, under load too.
			other := (lead + 1) % 3
			if err := f.Stop(ctx, other); err != nil {
				t.Fatal(err)
			}
			if err := f.Restart(ctx, other); err != nil {
				t.Fatal(err)
			}
			w.waitAcked(t, w.acked()+20)
			keys := w.stop()
			for _, ep := range cl.Endpoints() {
				waitKeys(ctx, t, ep, keys)
			}
		})
	}
}

func TestFaulterBadMember(t *testing.T) {
	cl, err := StartCluster(ctxT(t), quickCluster(t, TargetInproc, 1, "memory"), testBackends())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	f := cl.(Faulter)
	for _, i := range []int{-1, 1} {
		if err := f.Kill(ctxT(t), i); !errors.Is(err, ErrConfig) {
			t.Errorf("Kill(%d): %v, want ErrConfig", i, err)
		}
	}
	if err := f.Restart(ctxT(t), 0); !errors.Is(err, ErrTarget) {
		t.Errorf("Restart of a running member: %v, want ErrTarget", err)
	}
}

func quietClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// writer puts keys one after another, remembering those acknowledged.
// Failures (while a leader is down) are expected and retried with the
// next key: an unacknowledged key may or may not exist afterwards.
type writer struct {
	mu     sync.Mutex
	keys   []string
	cancel context.CancelFunc
	done   chan struct{}
}

func startWriter(ctx context.Context, cli *clientv3.Client) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			k := fmt.Sprintf("fault/%06d", i)
			octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cli.Put(octx, k, "v")
			ocancel()
			if err == nil {
				w.mu.Lock()
				w.keys = append(w.keys, k)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *writer) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys)
}

func (w *writer) waitAcked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.acked() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes acknowledged, waited for %d", w.acked(), n)
		}
		time.Sleep(5 * time.Millisecond) // polling, not timing
	}
}

func (w *writer) stop() []string {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.keys
}

// waitKeys polls member ep with serializable reads (its own state, no
// forwarding) until it holds every key.
func waitKeys(ctx context.Context, t *testing.T, ep string, keys []string) {
	t.Helper()
	cli := quietClient(t, []string{ep})
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := cli.Get(ctx, "fault/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSerializable())
		missing := len(want)
		if err == nil {
			for _, kv := range resp.Kvs {
				if want[string(kv.Key)] {
					missing--
				}
			}
			if missing == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s: %d of %d acknowledged keys missing (last error %v)", ep, missing, len(keys), err)
		}
		time.Sleep(10 * time.Millisecond) // polling, not timing
	}
}

// TestBenchNetDelay runs a short put load with 5 ms one-way delay on every
// peer link of a 3-member cluster: a write commits only after a round trip
// to a follower, so the median cannot be under 10 ms if the delay is
// really injected. Only the lower bound is checked; the upper depends on
// the machine.
func TestBenchNetDelay(t *testing.T) {
	const delay = 5 * time.Millisecond
	for _, tc := range faultTargets(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // only a lower bound is checked, so load cannot fail it
			cfg := DefaultBenchConfig()
			cfg.Cluster = tc.cfg(t)
			cfg.Cluster.NetDelay = delay
			cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 8, 2, 200
			run := bench(t, cfg, testBackends())
			p := run.Points[0]
			if p.Ops != 200 || p.Errors != 0 {
				t.Fatalf("ops %d errors %v", p.Ops, p.ErrorsByCode)
			}
			if p.LatencyMs.P50 < 2*float64(delay)/1e6 {
				t.Errorf("p50 %v ms under %v one-way delay: the delay was not injected", p.LatencyMs.P50, delay)
			}
			if p.SyncsPerOp <= 0 {
				t.Errorf("syncs per op %v", p.SyncsPerOp)
			}
			if tc.name != "inproc" && p.ServerCPUS <= 0 {
				t.Errorf("server CPU %v s for member processes", p.ServerCPUS)
			}
		})
	}
}

func TestNetInjection(t *testing.T) {
	tests := []struct {
		name   string
		target string
		cfg    func(c *ClusterConfig)
		want   string
	}{
		{"none", TargetInproc, func(c *ClusterConfig) {}, "none"},
		{"inproc", TargetInproc, func(c *ClusterConfig) { c.NetDelay, c.NetLoss = 5*time.Millisecond, 0.01 },
			"inproc-network: one-way 5ms, loss 0.01 on 6 directed peer links"},
		{"process", TargetProcess, func(c *ClusterConfig) { c.NetDelay, c.NetJitter = 5*time.Millisecond, time.Millisecond },
			"tcp-proxy: one-way 5ms ±1ms on 6 directed peer links"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultClusterConfig()
			cfg.Nodes = 3
			tc.cfg(&cfg)
			var c NetInjector = &inproc{cfg: cfg}
			if tc.target == TargetProcess {
				c = &procCluster{cfg: cfg}
			}
			if got := c.NetInjection().String(); got != tc.want {
				t.Errorf("NetInjection = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStartProcessErrors(t *testing.T) {
	t.Run("missing binary", func(t *testing.T) {
		c := quickCluster(t, TargetProcess, 1, "batched")
		c.ServeBinary = filepath.Join(t.TempDir(), "no-such-adrbench")
		if _, err := StartCluster(ctxT(t), c, nil); !errors.Is(err, ErrNotFound) {
			t.Fatalf("StartCluster: %v, want ErrNotFound", err)
		}
	})
	t.Run("member exits", func(t *testing.T) {
		// An unknown backend makes serve exit at once: the start must
		// fail fast with the member's log, not wait for a leader.
		c := quickCluster(t, TargetProcess, 1, "no-such-backend")
		c.ServeBinary = serveBinary(t)
		_, err := StartCluster(ctxT(t), c, nil)
		if !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), "no-such-backend") {
			t.Fatalf("StartCluster: %v, want ErrTarget naming the backend", err)
		}
	})
}

// TestMemberFlags checks what members are told besides the cluster's own
// flags: the backend, the disk profile and the timing reach serve, and
// etcd gets the same timing.
func TestMemberFlags(t *testing.T) {
	cfg := quickCluster(t, TargetProcess, 2, "batched")
	cfg.DiskProfile = "ssd-2015"
	timing := []string{"--snapshot-count=100000", "--heartbeat-interval=20", "--election-timeout=200"}
	want := append([]string{"--log-backend=batched", "--log-level=warn", "--unsafe-allow-nondurable", "--disk-profile=ssd-2015"}, timing...)
	if got := serveFlags(cfg); !slices.Equal(got, want) {
		t.Errorf("serve flags\n got %q\nwant %q", got, want)
	}
	cfg.ServeFlags = []string{"--unsafe-test-stale-reads"}
	if got := serveFlags(cfg); !slices.Equal(got, append(want, cfg.ServeFlags...)) {
		t.Errorf("serve flags with ServeFlags\n got %q\nwant them last", got)
	}
	if got := timingFlags(cfg); !slices.Equal(got, timing) {
		t.Errorf("timing flags\n got %q\nwant %q", got, timing)
	}
	c := &procCluster{target: TargetProcess, cfg: cfg}
	if e := c.Emulated(); len(e) != 1 || e[0] != "disk-profile:ssd-2015" {
		t.Errorf("Emulated = %v, want the disk profile's label", e)
	}
	c.emulated = []string{"disk-profile:ssd-2015", "adr-region:emulated"}
	if e := c.Emulated(); !slices.Equal(e, []string{"disk-profile:ssd-2015", "adr-region:emulated"}) {
		t.Errorf("Emulated = %v, want the disk profile's label and what the members reported, once each", e)
	}
	c.target = TargetEtcd
	if e := c.Emulated(); len(e) != 0 {
		t.Errorf("etcd Emulated = %v, want none", e)
	}
}
