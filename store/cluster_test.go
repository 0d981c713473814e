package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/store/transport"
)

// testCluster is N members in this process on an in-process network, each
// serving the client API on a loopback port of its own.
type testCluster struct {
	t       testing.TB
	net     *transport.Network
	cfgs    []Config
	members []*Server
	clients []*clientv3.Client
	reg     *logbackends.Registry
	// memberOpts, if set, gives member i options of its own.
	memberOpts func(i int) []Option
}

type clusterOpts struct {
	backend       string
	snapshotCount uint64
	catchUp       uint64
	pprof         bool
	// reg, if set, replaces testRegistry's backends.
	reg *logbackends.Registry
	// memberOpts, if set, gives member i options of its own, at every
	// start.
	memberOpts func(i int) []Option
	// config, if set, changes every member's config.
	config func(*Config)
}

func testRegistry() *logbackends.Registry {
	r := logbackends.NewRegistry()
	r.Register(memory.NewEntry())
	r.Register(batched.NewEntry(batched.DefaultConfig()))
	return r
}

func newTestCluster(t testing.TB, n int, o clusterOpts) *testCluster {
	t.Helper()
	if o.backend == "" {
		o.backend = "batched"
	}
	if o.reg == nil {
		o.reg = testRegistry()
	}
	c := &testCluster{t: t, net: transport.NewNetwork(), reg: o.reg, memberOpts: o.memberOpts}
	var initial []Member
	for i := 0; i < n; i++ {
		initial = append(initial, Member{Name: fmt.Sprintf("m%d", i), PeerURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", 12380+i)}})
	}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		cfg := DefaultConfig()
		cfg.Name = initial[i].Name
		cfg.DataDir = filepath.Join(dir, cfg.Name)
		cfg.ListenPeerURLs = initial[i].PeerURLs
		cfg.AdvertisePeerURLs = initial[i].PeerURLs
		cfg.InitialCluster = initial
		cfg.LogBackend = o.backend
		// Short timeouts keep elections quick in tests; the ratio is
		// etcd's default.
		cfg.HeartbeatInterval = 20 * time.Millisecond
		cfg.ElectionTimeout = 200 * time.Millisecond
		cfg.BackendBatchInterval = 20 * time.Millisecond
		if o.snapshotCount > 0 {
			cfg.SnapshotCount = o.snapshotCount
		}
		cfg.EnablePprof = o.pprof
		if o.catchUp > 0 {
			cfg.SnapshotCatchUpEntries = o.catchUp
		}
		if o.config != nil {
			o.config(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	c.members = make([]*Server, n)
	c.clients = make([]*clientv3.Client, n)
	for i := range c.cfgs {
		c.start(i)
	}
	t.Cleanup(c.close)
	return c
}

// start (re)starts member i on a fresh client port.
func (c *testCluster) start(i int) {
	c.t.Helper()
	if err := c.tryStart(i); err != nil {
		c.t.Fatalf("start %s: %v", c.cfgs[i].Name, err)
	}
}

// tryStart is start that returns why member i did not start.
func (c *testCluster) tryStart(i int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg := c.cfgs[i]
	cfg.ListenClientURLs = []string{"http://" + ln.Addr().String()}
	cfg.AdvertiseClientURLs = cfg.ListenClientURLs
	if c.members[i] != nil || dirHasData(cfg.DataDir) {
		cfg.InitialClusterState = "existing"
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []Option{WithLogger(logger), WithClientListener(ln),
		WithTransport(func(id, _ uint64, r transport.Raft) (transport.Transport, error) {
			return c.net.Join(id, r), nil
		})}
	if c.memberOpts != nil {
		opts = append(opts, c.memberOpts(i)...)
	}
	s, err := NewServer(cfg, c.reg, opts...)
	if err != nil {
		ln.Close()
		return err
	}
	c.members[i] = s
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ln.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	c.clients[i] = cli
	return nil
}

// withBeforeCommit makes the server's state machine call f before every
// commit of its batch (mvcc.Config.BeforeCommit).
func withBeforeCommit(f func() error) Option { return func(o *options) { o.beforeCommit = f } }

// withAfterBootStep tells f of each first-boot step as it completes.
func withAfterBootStep(f func(bootStep)) Option { return func(o *options) { o.afterBootStep = f } }

func dirHasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "member", "identity.json"))
	return err == nil
}

// stop closes member i (a clean stop; its data stays).
func (c *testCluster) stop(i int) {
	c.t.Helper()
	if c.clients[i] != nil {
		c.clients[i].Close()
		c.clients[i] = nil
	}
	if c.members[i] != nil {
		if err := c.members[i].Close(); err != nil {
			c.t.Errorf("close %s: %v", c.cfgs[i].Name, err)
		}
	}
}

func (c *testCluster) close() {
	for i := range c.members {
		if c.clients[i] != nil {
			c.stop(i)
		}
	}
}

// leader waits for a leader all running members agree on and returns its
// index.
func (c *testCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		lead, agreed := uint64(0), true
		for i, s := range c.members {
			if c.clients[i] == nil {
				continue
			}
			l := s.Leader()
			if l == 0 || (lead != 0 && l != lead) {
				agreed = false
				break
			}
			lead = l
		}
		if agreed && lead != 0 {
			for i, s := range c.members {
				if c.clients[i] != nil && s.ID() == lead {
					return i
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader elected within 10s")
	return -1
}

func (c *testCluster) follower() int {
	l := c.leader()
	for i := range c.members {
		if i != l && c.clients[i] != nil {
			return i
		}
	}
	c.t.Fatal("no follower running")
	return -1
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v: %v", d, err)
}
