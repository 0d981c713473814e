package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/adrbench/adrbench/internal/proccluster"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
)

// procCluster is the process or etcd target: a proccluster.Cluster of
// member processes that take etcd's flags, `adrbench serve` or real etcd.
// With network delay or peer cuts configured, every member's peer port
// has a Proxy in front of it (the cluster's PeerFront): members advertise
// the proxy, so every peer connection to a member (whichever side dials)
// passes one proxy, and each direction of each link gets the one-way
// delay once, and is cut at one place. With disk stalls configured, the
// members' directory is a FUSE mount whose syncs can be slowed.
type procCluster struct {
	target string // for errors and labels
	cfg    ClusterConfig
	tmpDir string // removed on Close when the target made it
	pc     *proccluster.Cluster
	// emulated is what our members' log backends said they emulate
	// (their /metrics) once they were up: the adr backend's region,
	// whose kind auto resolves only when it opens.
	emulated []string
	net      *peerNet       // nil without PeerCuts
	disk     *stallableDisk // nil without DiskStalls
}

// startProcess starts N `adrbench serve` members.
func startProcess(ctx context.Context, cfg ClusterConfig, backends *logbackends.Registry) (*procCluster, error) {
	bin := cfg.ServeBinary
	if bin == "" {
		// Right when the harness runs inside the adrbench binary; tests
		// and other programs set ServeBinary.
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: serve binary: %w", ErrNotFound, err)
		}
		bin = exe
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("%w: serve binary %q: %w", ErrNotFound, bin, err)
	}
	c, err := startProcs(ctx, cfg, backends, TargetProcess, []string{bin, "serve"}, serveFlags(cfg))
	if err != nil {
		return nil, err
	}
	// Ask the members what they emulate, so a point is labelled as one
	// measured in process is.
	stats, err := ScrapeLogStatsTLS(ctx, c.Endpoints(), c.ClientTLS())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%w: %s: what the members emulate: %w", ErrTarget, TargetProcess, err), c.Close())
	}
	for _, st := range stats {
		for _, e := range st.Emulated {
			c.emulated = appendUnique(c.emulated, e)
		}
	}
	return c, nil
}

// serveFlags are what `adrbench serve` members are given after the
// cluster's flags. A benchmark runs every backend, those that are not
// durable too, so the members are let run them (their results are
// labelled unsafe).
func serveFlags(cfg ClusterConfig) []string {
	flags := []string{"--log-backend=" + cfg.LogBackend, "--log-level=warn", "--unsafe-allow-nondurable"}
	if cfg.DiskProfile != "" {
		flags = append(flags, "--disk-profile="+cfg.DiskProfile)
	}
	flags = append(flags, timingFlags(cfg)...)
	return append(flags, cfg.ServeFlags...)
}

// timingFlags give every member, ours and etcd's alike, the snapshot and
// raft timing of cfg, so a comparison is fair.
func timingFlags(cfg ClusterConfig) []string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return []string{
		"--snapshot-count=" + strconv.FormatUint(cfg.SnapshotCount, 10),
		"--heartbeat-interval=" + ms(cfg.HeartbeatInterval),
		"--election-timeout=" + ms(cfg.ElectionTimeout),
	}
}

// startProcs starts the members in cfg.DataDir, or in a temporary
// directory, and returns once they are healthy. backends removes what the
// members' log backends keep outside their data dirs; nil for real etcd.
func startProcs(ctx context.Context, cfg ClusterConfig, backends *logbackends.Registry, target string, command, flags []string) (_ *procCluster, err error) {
	c := &procCluster{target: target, cfg: cfg}
	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "adrbench-"+target+"-"); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		c.tmpDir = dir
	}
	if cfg.DiskStalls {
		// The members' directory is the mount; what they write lands in
		// dir, the backing directory.
		if c.disk, err = mountStallable(dir); err != nil {
			return nil, errors.Join(err, c.removeTmp())
		}
		dir = c.disk.mountpoint
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.closeDisk(), c.removeTmp())
		}
	}()
	var tlsFiles *proccluster.TLS
	if cfg.TLS {
		// Next to the members' directories, outside a stallable mount.
		base := cfg.DataDir
		if base == "" {
			base = c.tmpDir
		}
		if tlsFiles, err = makeClusterTLS(filepath.Join(base, "tls"), cfg.Nodes); err != nil {
			return nil, err
		}
	}
	pcfg := proccluster.Config{
		Command: command,
		Flags:   flags,
		Size:    cfg.Nodes,
		Dir:     dir,
		TLS:     tlsFiles,
		// Data already in the user's directory is the user's.
		KeepData:     cfg.DataDir != "",
		RemoveMember: func(dir string) error { return removeDataDir(backends, cfg.LogBackend, dir) },
	}
	var proxies []*Proxy // every attempt's, in member order
	if cfg.NetDelay > 0 || cfg.NetJitter > 0 || cfg.PeerCuts {
		front := proxyFront(LinkDelay{Delay: cfg.NetDelay, Jitter: cfg.NetJitter})
		pcfg.PeerFront = func(addr string) (string, io.Closer, error) {
			adv, closer, err := front(addr)
			if p, ok := closer.(*Proxy); ok {
				proxies = append(proxies, p)
			}
			return adv, closer, err
		}
	}
	pc, err := proccluster.Start(ctx, pcfg)
	if err != nil {
		if c.tmpDir != "" || c.disk != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTarget, target, err)
		}
		return nil, fmt.Errorf("%w: %s: %w (member logs in %s)", ErrTarget, target, err, dir)
	}
	c.pc = pc
	if cfg.PeerCuts {
		if c.net, err = newPeerNet(ctx, pc, proxies); err != nil {
			return nil, errors.Join(fmt.Errorf("%w: %s: %w", ErrTarget, target, err), pc.Close())
		}
	}
	return c, nil
}

// removeTmp removes the temporary directory the target made, if any.
func (c *procCluster) removeTmp() error {
	if c.tmpDir == "" {
		return nil
	}
	return os.RemoveAll(c.tmpDir)
}

// closeDisk unmounts the stallable file system, if any.
func (c *procCluster) closeDisk() error {
	if c.disk == nil {
		return nil
	}
	return c.disk.close()
}

func (c *procCluster) Endpoints() []string { return c.pc.Endpoints() }

// ClientTLS implements TLSCluster: nil without ClusterConfig.TLS.
func (c *procCluster) ClientTLS() *tls.Config { return c.pc.Member(0).ClientTLS() }

// ServerCPU sums the user and system time of the member processes, every
// incarnation of each.
func (c *procCluster) ServerCPU() (time.Duration, error) {
	d, err := c.pc.CPU()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTarget, err)
	}
	return d, nil
}

// Emulated labels what our members emulate: the disk profile they were
// given, and what their log backends reported at start (an emulated adr
// region). etcd gets none (Validate refuses a disk profile for it).
func (c *procCluster) Emulated() []string {
	if c.target != TargetProcess {
		return nil
	}
	var out []string
	if p, err := diskprofile.Lookup(c.cfg.DiskProfile); c.cfg.DiskProfile != "" && err == nil && p.Emulated {
		out = append(out, p.Label())
	}
	for _, e := range c.emulated {
		out = appendUnique(out, e)
	}
	return out
}

// NetInjection says the peer links pass delaying TCP proxies.
func (c *procCluster) NetInjection() NetInjection { return netInjection("tcp-proxy", c.cfg) }

// Stop sends member i SIGTERM and waits for it to exit; when ctx ends
// first the member is killed.
func (c *procCluster) Stop(ctx context.Context, i int) error {
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	return c.wrap(c.pc.Stop(ctx, i))
}

// Kill sends member i SIGKILL and waits for it to exit.
func (c *procCluster) Kill(ctx context.Context, i int) error {
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	return c.wrap(c.pc.Kill(ctx, i))
}

// Restart starts member i from its data dir and waits until it answers a
// status request.
func (c *procCluster) Restart(ctx context.Context, i int) error {
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	if err := c.pc.Restart(i); err != nil {
		return c.wrap(err)
	}
	return c.wrap(c.pc.WaitServing(ctx, i))
}

func (c *procCluster) Leader(ctx context.Context) (int, error) {
	i, err := c.pc.Leader(ctx)
	if err != nil {
		return -1, fmt.Errorf("%w: %s: %w", ErrNoLeader, c.target, err)
	}
	return i, nil
}

func (c *procCluster) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrTarget, c.target, err)
}

// Pause stops member i's process with SIGSTOP.
func (c *procCluster) Pause(i int) error {
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	return c.wrap(c.pc.Pause(i))
}

// Resume continues member i's process with SIGCONT.
func (c *procCluster) Resume(i int) error {
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	return c.wrap(c.pc.Resume(i))
}

// WaitHealthy waits until the running, unpaused members answer
// linearizable reads and agree on a leader.
func (c *procCluster) WaitHealthy(ctx context.Context) error {
	return c.wrap(c.pc.WaitHealthy(ctx))
}

// Cut cuts the given peer links at the proxies (ClusterConfig.PeerCuts).
func (c *procCluster) Cut(links []Link) error {
	if c.net == nil {
		return fmt.Errorf("%w: %s: peer cuts need ClusterConfig.PeerCuts", ErrConfig, c.target)
	}
	return c.net.cut(links)
}

// StallDisk slows member i's syncs (ClusterConfig.DiskStalls).
func (c *procCluster) StallDisk(i int, d time.Duration) error {
	if c.disk == nil {
		return fmt.Errorf("%w: %s: disk stalls need ClusterConfig.DiskStalls", ErrConfig, c.target)
	}
	if err := checkMember(i, c.pc.Size()); err != nil {
		return err
	}
	return c.disk.stall(c.pc.Member(i).DataDir(), d)
}

// Close kills the members (benchmark data is disposable, so there is no
// reason to wait for a clean stop), closes the proxies, unmounts the
// stallable file system and removes the temporary data directory.
func (c *procCluster) Close() error {
	return errors.Join(c.pc.Close(), c.closeDisk(), c.removeTmp())
}
