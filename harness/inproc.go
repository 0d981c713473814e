package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/store"
	"github.com/adrbench/adrbench/store/transport"
)

// inproc is N store members in this process. Raft messages travel over an
// in-process network (so injected delay is the only delay between members);
// clients reach each member on a loopback port of its own, through the same
// gRPC stack as a remote client.
type inproc struct {
	members   []*store.Server
	endpoints []string
	tmpDir    string // removed on Close when the target made it
}

func startInproc(ctx context.Context, cfg ClusterConfig, backends *logbackends.Registry) (_ *inproc, err error) {
	if backends == nil {
		return nil, fmt.Errorf("%w: inproc needs a backend registry", ErrConfig)
	}
	c := &inproc{}
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
	netw := transport.NewNetwork()
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
		s, err := store.NewServer(sc, backends,
			store.WithLogger(cfg.Logger.With("member", sc.Name)),
			store.WithClientListener(ln),
			store.WithTransport(func(id, _ uint64, r transport.Raft) (transport.Transport, error) {
				return netw.Join(id, r), nil
			}))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("%w: start %s: %w", ErrTarget, sc.Name, err)
		}
		c.members = append(c.members, s)
		c.endpoints = append(c.endpoints, ln.Addr().String())
	}
	fault := transport.LinkFault{Delay: cfg.NetDelay, Jitter: cfg.NetJitter, Loss: cfg.NetLoss}
	if err := fault.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !fault.IsZero() {
		for _, a := range c.members {
			for _, b := range c.members {
				if a != b {
					a.Transport().SetLinkFault(b.ID(), fault)
				}
			}
		}
	}
	return c, ctx.Err()
}

func (c *inproc) Endpoints() []string { return c.endpoints }

// Syncs reads the backends' counters directly: exact, and free of HTTP.
func (c *inproc) Syncs(context.Context) (uint64, bool) {
	var n uint64
	for _, m := range c.members {
		n += m.BackendStats().Syncs
	}
	return n, true
}

// Emulated lists what the members' backends emulate.
func (c *inproc) Emulated() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range c.members {
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
	var errs []error
	for _, m := range c.members {
		errs = append(errs, m.Close())
	}
	c.members = nil
	if c.tmpDir != "" {
		errs = append(errs, os.RemoveAll(c.tmpDir))
	}
	return errors.Join(errs...)
}
