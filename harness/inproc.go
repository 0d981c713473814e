package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/store"
	"github.com/adrbench/adrbench/store/transport"
)

// inproc is N store members in this process. Raft messages travel over an
// in-process network (so injected delay is the only delay between members);
// clients reach each member on a loopback port of its own, through the same
// gRPC stack as a remote client.
type inproc struct {
	cfg       ClusterConfig
	backends  *logbackends.Registry
	netw      *transport.Network
	fault     transport.LinkFault
	configs   []store.Config // to restart a member as it was
	endpoints []string
	tmpDir    string // removed on Close when the target made it

	mu      sync.Mutex
	members []*store.Server // nil while a member is stopped
}

func startInproc(ctx context.Context, cfg ClusterConfig, backends *logbackends.Registry) (_ *inproc, err error) {
	if backends == nil {
		return nil, fmt.Errorf("%w: inproc needs a backend registry", ErrConfig)
	}
	c := &inproc{cfg: cfg, backends: backends, netw: transport.NewNetwork()}
	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "adrbench-inproc-"); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		c.tmpDir = dir
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	// Peer URLs only name the members (ids derive from them); the
	// in-process network never dials them.
	var initial []store.Member
	for i := range cfg.Nodes {
		initial = append(initial, store.Member{
			Name:     fmt.Sprintf("m%d", i),
			PeerURLs: []string{fmt.Sprintf("http://inproc-%d:2380", i)},
		})
	}
	for i := range cfg.Nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("%w: listen: %w", ErrTarget, err)
		}
		sc := store.DefaultConfig()
		sc.Name = initial[i].Name
		sc.DataDir = filepath.Join(dir, sc.Name)
		sc.ListenClientURLs = []string{"http://" + ln.Addr().String()}
		sc.AdvertiseClientURLs = sc.ListenClientURLs
		sc.ListenPeerURLs = initial[i].PeerURLs
		sc.AdvertisePeerURLs = initial[i].PeerURLs
		sc.InitialCluster = initial
		sc.LogBackend = cfg.LogBackend
		if cfg.DiskProfile != "" {
			sc.DiskProfile = cfg.DiskProfile
		}
		sc.SnapshotCount = cfg.SnapshotCount
		sc.HeartbeatInterval = cfg.HeartbeatInterval
		sc.ElectionTimeout = cfg.ElectionTimeout
		s, err := c.newServer(sc, ln)
		if err != nil {
			return nil, err
		}
		c.configs = append(c.configs, sc)
		c.members = append(c.members, s)
		c.endpoints = append(c.endpoints, ln.Addr().String())
	}
	c.fault = transport.LinkFault{Delay: cfg.NetDelay, Jitter: cfg.NetJitter, Loss: cfg.NetLoss}
	if err := c.fault.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for _, m := range c.members {
		c.setFaultsFrom(m)
	}
	return c, ctx.Err()
}

func (c *inproc) newServer(sc store.Config, ln net.Listener) (*store.Server, error) {
	s, err := store.NewServer(sc, c.backends,
		store.WithLogger(c.cfg.Logger.With("member", sc.Name)),
		store.WithClientListener(ln),
		store.WithTransport(func(id, _ uint64, r transport.Raft) (transport.Transport, error) {
			return c.netw.Join(id, r), nil
		}))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("%w: start %s: %w", ErrTarget, sc.Name, err)
	}
	return s, nil
}

// setFaultsFrom injects the configured fault on every link from m to the
// other members; links towards m belong to the others' transports and
// survive m's restarts.
func (c *inproc) setFaultsFrom(m *store.Server) {
	if c.fault.IsZero() {
		return
	}
	for _, b := range c.members {
		if b != nil && b != m {
			m.Transport().SetLinkFault(b.ID(), c.fault)
		}
	}
}

func (c *inproc) Endpoints() []string { return c.endpoints }

// NetInjection says the members' links are the in-process network's.
func (c *inproc) NetInjection() NetInjection { return netInjection("inproc-network", c.cfg) }

// Stop closes member i cleanly.
func (c *inproc) Stop(_ context.Context, i int) error { return c.down(i, false) }

// Kill cuts member i off the network and then closes it: see Faulter for
// how far that is from a crash.
func (c *inproc) Kill(_ context.Context, i int) error { return c.down(i, true) }

func (c *inproc) down(i int, abrupt bool) error {
	if err := checkMember(i, len(c.configs)); err != nil {
		return err
	}
	c.mu.Lock()
	m := c.members[i]
	c.members[i] = nil
	c.mu.Unlock()
	if m == nil {
		return nil
	}
	if abrupt {
		c.netw.Isolate(m.ID())
	}
	if err := m.Close(); err != nil {
		return fmt.Errorf("%w: stop %s: %w", ErrTarget, c.configs[i].Name, err)
	}
	return nil
}

// Restart opens member i again from its data dir on the same client port
// and rejoins it to the network, healing the cut a Kill made.
func (c *inproc) Restart(ctx context.Context, i int) error {
	if err := checkMember(i, len(c.configs)); err != nil {
		return err
	}
	c.mu.Lock()
	running := c.members[i] != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("%w: inproc %s is running", ErrTarget, c.configs[i].Name)
	}
	ln, err := net.Listen("tcp", c.endpoints[i])
	if err != nil {
		return fmt.Errorf("%w: restart %s: %w", ErrTarget, c.configs[i].Name, err)
	}
	sc := c.configs[i]
	sc.InitialClusterState = "existing"
	s, err := c.newServer(sc, ln)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.members[i] = s
	c.setFaultsFrom(s)
	c.mu.Unlock()
	// Cuts only ever come from Kill, and a killed member has left the
	// network, so healing every cut reconnects this one and changes
	// nothing for the others.
	c.netw.Heal()
	return ctx.Err()
}

// Leader polls until a running member says it leads.
func (c *inproc) Leader(ctx context.Context) (int, error) {
	for {
		c.mu.Lock()
		for i, m := range c.members {
			if m != nil && m.Leader() == m.ID() {
				c.mu.Unlock()
				return i, nil
			}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%w: inproc: %w", ErrNoLeader, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Emulated lists what the members' backends emulate.
func (c *inproc) Emulated() []string {
	seen := map[string]bool{}
	var out []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m == nil {
			continue
		}
		for _, e := range m.BackendStats().Emulated {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

func (c *inproc) Close() error {
	c.mu.Lock()
	members := c.members
	c.members = nil
	c.mu.Unlock()
	var errs []error
	for _, m := range members {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	if c.tmpDir != "" {
		errs = append(errs, removeDataDirs(c.backends, c.cfg.LogBackend, c.tmpDir))
	}
	return errors.Join(errs...)
}

// BackendStats implements BackendStatser: every member's log-backend Stats,
// read directly. A stopped member reads as zero Stats, which LogStatsDelta
// refuses as counters going back, so a point spanning a stop carries no
// log figures rather than wrong ones.
func (c *inproc) BackendStats() []logbackends.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]logbackends.Stats, len(c.members))
	for i, m := range c.members {
		if m != nil {
			out[i] = m.BackendStats()
		}
	}
	return out
}

// FlushInstruction implements FlushInstructioner: the cache-line flush the
// members' backends report (logbackends.FactFlushInstruction), "" for
// backends that keep no persistent memory.
func (c *inproc) FlushInstruction() string {
	for _, s := range c.BackendStats() {
		if f := s.Fact(logbackends.FactFlushInstruction); f != "" {
			return f
		}
	}
	return ""
}
