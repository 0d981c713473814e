package harness

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/lossyfs"
)

// faultProcTargets are the targets with member processes, each a 3-member
// cluster with quick timing, prepared for cuts and stalls as set.
func faultProcTargets(t *testing.T, cuts, stalls bool) []struct {
	name string
	cfg  func(t *testing.T) ClusterConfig
} {
	targets := slices.DeleteFunc(faultTargets(t), func(tc struct {
		name string
		cfg  func(t *testing.T) ClusterConfig
	}) bool {
		return tc.name == "inproc"
	})
	for i, tc := range targets {
		targets[i].cfg = func(t *testing.T) ClusterConfig {
			c := tc.cfg(t)
			c.PeerCuts, c.DiskStalls = cuts, stalls
			return c
		}
	}
	return targets
}

func startFaultCluster(t *testing.T, cfg ClusterConfig) Cluster {
	t.Helper()
	cl, err := StartCluster(ctxT(t), cfg, testBackends())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Error(err)
		}
	})
	return cl
}

// putEventually retries a put through cli until one is acknowledged.
func putEventually(t *testing.T, cli *clientv3.Client, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Put(ctx, key, "v")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("put %s never acknowledged: %v", key, err)
		}
	}
}

// hasKey reads key from member ep alone (serializable: its own state).
func hasKey(t *testing.T, ep, key string) bool {
	t.Helper()
	cli := quietClient(t, []string{ep})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		t.Fatalf("serializable read of %s on %s: %v", key, ep, err)
	}
	return len(resp.Kvs) == 1
}

// leaderAmong polls the members in eps until one of them says it leads,
// and returns its endpoint.
func leaderAmong(t *testing.T, eps []string) string {
	t.Helper()
	cli := quietClient(t, eps)
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, ep := range eps {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, ep)
			cancel()
			if err == nil && st.Leader == st.Header.MemberId {
				return ep
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("none of %v took the lead", eps)
		}
		time.Sleep(10 * time.Millisecond) // polling, not timing
	}
}

// isolate is every link to and from member i of n.
func isolate(i, n int) []Link {
	var links []Link
	for j := range n {
		if j != i {
			links = append(links, Link{From: i, To: j}, Link{From: j, To: i})
		}
	}
	return links
}

// TestPeerCuts cuts a leader off, both ways and then one way, for both
// servers: the proxies must tell the members' connections apart for the
// majority to elect a leader of its own and the cut member to miss its
// writes, and heal so that it catches up.
func TestPeerCuts(t *testing.T) {
	for _, tc := range faultProcTargets(t, true, false) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cl := startFaultCluster(t, tc.cfg(t))
			f, p, h := cl.(Faulter), cl.(Partitioner), cl.(HealthWaiter)
			eps := cl.Endpoints()
			ctx := ctxT(t)

			lead, err := f.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			others := slices.Delete(slices.Clone(eps), lead, lead+1)
			if err := p.Cut(isolate(lead, len(eps))); err != nil {
				t.Fatal(err)
			}
			putEventually(t, quietClient(t, others), "cut/isolated")
			if hasKey(t, eps[lead], "cut/isolated") {
				t.Fatal("the isolated leader received a write made after the cut")
			}
			if err := p.Cut(nil); err != nil {
				t.Fatal(err)
			}
			if err := h.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for !hasKey(t, eps[lead], "cut/isolated") {
				if time.Now().After(deadline) {
					t.Fatal("the healed member never caught up")
				}
				time.Sleep(10 * time.Millisecond) // polling, not timing
			}

			// One way: the leader hears its followers but they do not hear
			// it, so they elect another.
			lead, err = f.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []Link
			for j := range eps {
				if j != lead {
					out = append(out, Link{From: lead, To: j})
				}
			}
			if err := p.Cut(out); err != nil {
				t.Fatal(err)
			}
			others = slices.Delete(slices.Clone(eps), lead, lead+1)
			leaderAmong(t, others)
			putEventually(t, quietClient(t, others), "cut/one-way")
			if err := p.Cut(nil); err != nil {
				t.Fatal(err)
			}
			if err := h.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDiskStall stalls every member's syncs far beyond a put's timeout:
// no put can commit, for either server, until the stall ends.
func TestDiskStall(t *testing.T) {
	for _, tc := range faultProcTargets(t, false, true) {
		t.Run(tc.name, func(t *testing.T) {
			if err := lossyfs.Available(); err != nil {
				t.Skipf("SKIPPING the disk-stall test, which mounts a FUSE file system: %v", err)
			}
			t.Parallel()
			cl := startFaultCluster(t, tc.cfg(t))
			s := cl.(DiskStaller)
			cli := quietClient(t, cl.Endpoints())
			putEventually(t, cli, "stall/before")
			for i := range cl.Endpoints() {
				if err := s.StallDisk(i, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := cli.Put(ctx, "stall/during", "v")
			cancel()
			if err == nil {
				t.Fatal("a put committed while every member's disk was stalled for an hour")
			}
			for i := range cl.Endpoints() {
				if err := s.StallDisk(i, 0); err != nil {
					t.Fatal(err)
				}
			}
			putEventually(t, cli, "stall/after")
		})
	}
}

func TestFaultConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *ClusterConfig)
	}{
		{"cuts for inproc", func(c *ClusterConfig) { c.PeerCuts = true }},
		{"stalls for inproc", func(c *ClusterConfig) { c.DiskStalls = true }},
		{"serve flags for etcd", func(c *ClusterConfig) { c.Target, c.ServeFlags = TargetEtcd, []string{"--x"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := quickCluster(t, TargetInproc, 3, "batched")
			tc.set(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v, want ErrConfig", err)
			}
		})
	}
	c := &procCluster{target: TargetProcess, cfg: quickCluster(t, TargetProcess, 3, "batched")}
	if err := c.Cut([]Link{{0, 1}}); !errors.Is(err, ErrConfig) {
		t.Errorf("Cut without PeerCuts: %v, want ErrConfig", err)
	}
	if err := c.StallDisk(0, time.Second); !errors.Is(err, ErrConfig) {
		t.Errorf("StallDisk without DiskStalls: %v, want ErrConfig", err)
	}
	n := &peerNet{proxies: make([]*Proxy, 3), ids: []uint64{1, 2, 3}}
	for _, l := range []Link{{0, 0}, {0, 3}, {-1, 1}} {
		if err := n.cut([]Link{l}); !errors.Is(err, ErrConfig) {
			t.Errorf("cut %v: %v, want ErrConfig", l, err)
		}
	}
}
