package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/ports"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
)

// startAttempts bounds how often a process cluster picks new ports after a
// member lost one to another process between our probe and its bind.
const startAttempts = 3

// procCluster is N member processes that take etcd's flags: real etcd, or
// `adrbench serve`, whose flags are etcd's. Each member has a client port
// and a peer port on loopback. With network delay configured, every member
// also has a Proxy in front of its peer port: members advertise the proxy,
// so every peer connection to a member (whichever side dials) passes one
// proxy, and each direction of each link gets the one-way delay once.
type procCluster struct {
	target  string   // for errors and labels
	command []string // binary and the arguments before the flags
	flags   []string // given to every member after the cluster flags
	cfg     ClusterConfig
	dir     string
	tmpDir  string // removed on Close when the target made it
	token   string

	members   []*procMember
	proxies   []*Proxy
	endpoints []string
}

type procMember struct {
	name       string
	dataDir    string
	logPath    string
	clientURL  string
	listenPeer string // where the process listens
	advertPeer string // what the others dial: the proxy when there is one

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	exitErr error
	deadCPU time.Duration // CPU of earlier incarnations, killed or stopped
}

// startProcess starts N `adrbench serve` members.
func startProcess(ctx context.Context, cfg ClusterConfig) (*procCluster, error) {
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
	flags := []string{
		"--log-backend", cfg.LogBackend,
		"--log-level", "warn",
	}
	if cfg.DiskProfile != "" {
		flags = append(flags, "--disk-profile", cfg.DiskProfile)
	}
	return startProcs(ctx, cfg, TargetProcess, []string{bin, "serve"}, flags)
}

// startProcs starts the members, retrying with fresh ports when one was
// taken, and returns once they have a leader.
func startProcs(ctx context.Context, cfg ClusterConfig, target string, command, flags []string) (_ *procCluster, err error) {
	c := &procCluster{target: target, command: command, flags: flags, cfg: cfg, dir: cfg.DataDir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "adrbench-"+target+"-"); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		c.tmpDir = c.dir
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	c.flags = append(c.flags,
		"--snapshot-count", strconv.FormatUint(cfg.SnapshotCount, 10),
		"--heartbeat-interval", ms(cfg.HeartbeatInterval),
		"--election-timeout", ms(cfg.ElectionTimeout),
	)
	for attempt := range startAttempts {
		c.token = fmt.Sprintf("adrbench-%d-%d", os.Getpid(), attempt)
		err = c.tryStart(ctx, attempt)
		if err == nil {
			return c, nil
		}
		lost := c.lostPort()
		c.stopAll()
		if !lost {
			break
		}
	}
	c.Close()
	return nil, err
}

func (c *procCluster) tryStart(ctx context.Context, attempt int) error {
	n := c.cfg.Nodes
	free, err := ports.Free(2 * n)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	c.members, c.endpoints = nil, nil
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		m := &procMember{
			name:       name,
			dataDir:    filepath.Join(c.dir, name),
			logPath:    filepath.Join(c.dir, name+".log"),
			clientURL:  fmt.Sprintf("http://127.0.0.1:%d", free[2*i]),
			listenPeer: fmt.Sprintf("http://127.0.0.1:%d", free[2*i+1]),
		}
		m.advertPeer = m.listenPeer
		// A retry gets new ports, hence new member ids: data from the
		// failed attempt would not match them. A first attempt leaves
		// the directory alone; data already there is the user's.
		if attempt > 0 {
			if err := removeDataDir(m.dataDir); err != nil {
				return fmt.Errorf("%w: %w", ErrTarget, err)
			}
		}
		if c.cfg.NetDelay > 0 || c.cfg.NetJitter > 0 {
			p, err := ListenProxy("127.0.0.1:0", strings.TrimPrefix(m.listenPeer, "http://"),
				LinkDelay{Delay: c.cfg.NetDelay, Jitter: c.cfg.NetJitter})
			if err != nil {
				return err
			}
			c.proxies = append(c.proxies, p)
			m.advertPeer = "http://" + p.Addr()
		}
		c.members = append(c.members, m)
		c.endpoints = append(c.endpoints, m.clientURL)
	}
	for i := range c.members {
		if err := c.start(i, "new"); err != nil {
			return err
		}
	}
	// A member that exits while we wait (a taken port, a bad flag) ends
	// the wait at once instead of at the start timeout.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, m := range c.members {
		go func(exited chan struct{}) {
			select {
			case <-exited:
				cancel()
			case <-wctx.Done():
			}
		}(m.exited)
	}
	if _, err := FindLeader(wctx, c.endpoints); err != nil {
		for _, m := range c.members {
			if !m.running() {
				return fmt.Errorf("%w: %s %s exited: %v\n%s", ErrTarget, c.target, m.name, m.exitErr, tail(m.log(), 10))
			}
		}
		return fmt.Errorf("%w (member logs in %s)", err, c.dir)
	}
	return nil
}

func (c *procCluster) initialCluster() string {
	parts := make([]string, len(c.members))
	for i, m := range c.members {
		parts[i] = m.name + "=" + m.advertPeer
	}
	return strings.Join(parts, ",")
}

// args is member i's command line after the command prefix.
func (c *procCluster) args(i int, state string) []string {
	m := c.members[i]
	args := append([]string{}, c.command[1:]...)
	args = append(args,
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.listenPeer, "--initial-advertise-peer-urls", m.advertPeer,
		"--initial-cluster", c.initialCluster(),
		"--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
	)
	return append(args, c.flags...)
}

func (c *procCluster) start(i int, state string) error {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil && !isClosed(m.exited) {
		return fmt.Errorf("%w: %s %s is running", ErrTarget, c.target, m.name)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	args := c.args(i, state)
	fmt.Fprintf(logf, "=== %s %s\n", c.command[0], strings.Join(args, " "))
	// Not CommandContext: members must outlive the context that started
	// them.
	cmd := exec.Command(c.command[0], args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%w: start %s %s: %w", ErrTarget, c.target, m.name, err)
	}
	exited := make(chan struct{})
	m.cmd, m.exited, m.exitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		m.mu.Lock()
		m.exitErr = err
		if st := cmd.ProcessState; st != nil {
			m.deadCPU += st.UserTime() + st.SystemTime()
		}
		m.mu.Unlock()
		close(exited)
	}()
	return nil
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (m *procMember) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil && !isClosed(m.exited)
}

func (m *procMember) log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", m.logPath, err)
	}
	return string(b)
}

func (c *procCluster) lostPort() bool {
	for _, m := range c.members {
		if strings.Contains(m.log(), "address already in use") {
			return true
		}
	}
	return false
}

func (c *procCluster) Endpoints() []string { return c.endpoints }

// ServerCPU sums the user and system time of the member processes: live
// ones from /proc/<pid>/stat, earlier incarnations from their exit status.
func (c *procCluster) ServerCPU() (time.Duration, error) {
	var total time.Duration
	for _, m := range c.members {
		m.mu.Lock()
		total += m.deadCPU
		var pid int
		if m.cmd != nil && !isClosed(m.exited) {
			pid = m.cmd.Process.Pid
		}
		m.mu.Unlock()
		if pid == 0 {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		d, err := parseProcStatCPU(string(data))
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// Emulated labels an emulated disk profile given to our members; etcd
// gets none (Validate refuses one for it).
func (c *procCluster) Emulated() []string {
	if c.target != TargetProcess || c.cfg.DiskProfile == "" {
		return nil
	}
	if p, err := diskprofile.Lookup(c.cfg.DiskProfile); err == nil && p.Emulated {
		return []string{p.Label()}
	}
	return nil
}

// NetInjection says the peer links pass delaying TCP proxies.
func (c *procCluster) NetInjection() NetInjection { return netInjection("tcp-proxy", c.cfg) }

func (c *procCluster) Stop(ctx context.Context, i int) error {
	return c.signal(ctx, i, syscall.SIGTERM)
}

func (c *procCluster) Kill(ctx context.Context, i int) error {
	return c.signal(ctx, i, syscall.SIGKILL)
}

// signal sends sig to member i and waits for it to exit. When ctx ends
// first, the member is killed so it never outlives the call.
func (c *procCluster) signal(ctx context.Context, i int, sig syscall.Signal) error {
	if err := checkMember(i, len(c.members)); err != nil {
		return err
	}
	m := c.members[i]
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil || isClosed(exited) {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%w: signal %s %s: %w", ErrTarget, c.target, m.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%w: %s %s did not exit on %v: %w", ErrTarget, c.target, m.name, sig, ctx.Err())
	}
}

// Restart starts member i from its data dir and waits until it answers a
// status request.
func (c *procCluster) Restart(ctx context.Context, i int) error {
	if err := checkMember(i, len(c.members)); err != nil {
		return err
	}
	if err := c.start(i, "existing"); err != nil {
		return err
	}
	m := c.members[i]
	cli, err := newQuietClient(ctx, []string{m.clientURL})
	if err != nil {
		return err
	}
	defer cli.Close()
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Status(sctx, m.clientURL)
		cancel()
		if err == nil {
			return nil
		}
		if !m.running() {
			return fmt.Errorf("%w: %s %s exited on restart: %v\n%s", ErrTarget, c.target, m.name, m.exitErr, tail(m.log(), 10))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s %s not serving after restart: %w (last: %v)", ErrTarget, c.target, m.name, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *procCluster) Leader(ctx context.Context) (int, error) {
	eps := make([]string, 0, len(c.members))
	for _, m := range c.members {
		if m.running() {
			eps = append(eps, m.clientURL)
		}
	}
	if len(eps) == 0 {
		return -1, fmt.Errorf("%w: no member is running", ErrNoLeader)
	}
	lead, err := FindLeader(ctx, eps)
	if err != nil {
		return -1, err
	}
	for i, m := range c.members {
		if m.clientURL == lead {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: leader %s is not a member", ErrNoLeader, lead)
}

// stopAll kills every member and waits for them; benchmark data is
// disposable, so there is no reason to wait for a clean stop.
func (c *procCluster) stopAll() {
	for i := range c.members {
		_ = c.signal(context.Background(), i, syscall.SIGKILL)
	}
	for _, p := range c.proxies {
		_ = p.Close()
	}
	c.proxies = nil
}

// Close kills the members, closes the proxies and removes the temporary
// data directory.
func (c *procCluster) Close() error {
	c.stopAll()
	if c.tmpDir != "" {
		return removeDataDirs(c.tmpDir)
	}
	return nil
}

func newQuietClient(ctx context.Context, endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("%w: dial %v: %w", ErrTarget, endpoints, err)
	}
	return cli, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
