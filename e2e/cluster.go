package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/ports"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/store"
)

// ErrMemberExited is returned when a member process exits while the cluster
// waits for it.
var ErrMemberExited = errors.New("member process exited")

// startAttempts bounds how often StartCluster picks new ports after a
// member lost a port to another process between our probe and its bind.
const startAttempts = 3

// ClusterSpec says what to run. Both etcd and `adrbench serve` take the same
// flags, so only the command prefix differs.
type ClusterSpec struct {
	// Command is the binary and the arguments before the flags:
	// {"/usr/bin/etcd"} or {"/tmp/x/adrbench", "serve"}.
	Command []string
	// Flags are added to every member's command line after the cluster
	// flags, e.g. {"--log-backend=batched"}.
	Flags []string
	// Size is the number of members.
	Size int
	// Dir holds each member's data dir and log file.
	Dir string
}

// Cluster is Size member processes on loopback ports.
type Cluster struct {
	spec    ClusterSpec
	token   string
	Members []*Member
}

// Member is one process of a Cluster.
type Member struct {
	Name      string
	DataDir   string
	LogPath   string
	ClientURL string // http://127.0.0.1:port
	PeerURL   string

	mu      sync.Mutex
	proc    *exec.Cmd
	exited  chan struct{} // closed when proc has been waited for
	exitErr error
}

// Endpoint is the member's client address in the host:port form etcdctl and
// clientv3 take.
func (m *Member) Endpoint() string { return strings.TrimPrefix(m.ClientURL, "http://") }

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Log returns what the member's process printed, for failure messages.
func (m *Member) Log() string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", m.LogPath, err)
	}
	return string(b)
}

// StartCluster starts spec.Size members with a fresh initial cluster and
// waits until every member is healthy. On error every started process has
// been killed.
func StartCluster(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	var lastErr error
	for attempt := range startAttempts {
		c := &Cluster{spec: spec, token: fmt.Sprintf("e2e-%d-%d", os.Getpid(), attempt)}
		free, err := ports.Free(2 * spec.Size)
		if err != nil {
			return nil, err
		}
		for i := range spec.Size {
			dir := filepath.Join(spec.Dir, fmt.Sprintf("attempt%d", attempt), fmt.Sprintf("m%d", i))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			c.Members = append(c.Members, &Member{
				Name:      fmt.Sprintf("m%d", i),
				DataDir:   filepath.Join(dir, "data"),
				LogPath:   filepath.Join(dir, "member.log"),
				ClientURL: fmt.Sprintf("http://127.0.0.1:%d", free[2*i]),
				PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", free[2*i+1]),
			})
		}
		err = c.startAll("new")
		if err == nil {
			err = c.WaitHealthy(ctx)
		}
		if err == nil {
			return c, nil
		}
		c.KillAll()
		if rerr := c.RemoveRegions(); rerr != nil {
			return nil, rerr
		}
		lastErr = err
		if !c.lostPort() {
			return nil, err
		}
	}
	return nil, fmt.Errorf("start cluster: %d attempts lost their ports: %w", startAttempts, lastErr)
}

// lostPort reports whether a member failed because its port was taken.
func (c *Cluster) lostPort() bool {
	for _, m := range c.Members {
		if strings.Contains(m.Log(), "address already in use") {
			return true
		}
	}
	return false
}

func (c *Cluster) startAll(state string) error {
	for i := range c.Members {
		if err := c.start(i, state); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) initialCluster() string {
	parts := make([]string, len(c.Members))
	for i, m := range c.Members {
		parts[i] = m.Name + "=" + m.PeerURL
	}
	return strings.Join(parts, ",")
}

// Args returns member i's command line after the command prefix: etcd's
// flags for a static cluster.
func (c *Cluster) Args(i int, state string) []string {
	m := c.Members[i]
	args := []string{
		"--name=" + m.Name,
		"--data-dir=" + m.DataDir,
		"--listen-client-urls=" + m.ClientURL,
		"--advertise-client-urls=" + m.ClientURL,
		"--listen-peer-urls=" + m.PeerURL,
		"--initial-advertise-peer-urls=" + m.PeerURL,
		"--initial-cluster=" + c.initialCluster(),
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
	}
	return append(args, c.spec.Flags...)
}

func (c *Cluster) start(i int, state string) error {
	m := c.Members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		select {
		case <-m.exited:
		default:
			return fmt.Errorf("start %s: already running", m.Name)
		}
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append(append([]string{}, c.spec.Command[1:]...), c.Args(i, state)...)
	fmt.Fprintf(logf, "=== %s %s\n", c.spec.Command[0], strings.Join(args, " "))
	cmd := exec.Command(c.spec.Command[0], args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	m.proc, m.exited, m.exitErr = cmd, make(chan struct{}), nil
	go func(exited chan struct{}) {
		err := cmd.Wait()
		logf.Close()
		m.mu.Lock()
		m.exitErr = err
		m.mu.Unlock()
		close(exited)
	}(m.exited)
	return nil
}

// Endpoints returns the client endpoints (host:port) of all members.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// Kill sends SIGKILL to member i and waits for it to exit.
func (c *Cluster) Kill(i int) { c.signal(i, syscall.SIGKILL, 0) }

// KillAll kills every member.
func (c *Cluster) KillAll() {
	for i := range c.Members {
		c.Kill(i)
	}
}

// Stop asks every member to stop with SIGTERM and kills the ones still
// running after grace. It returns an error naming the members that had to
// be killed or exited with an error.
func (c *Cluster) Stop(grace time.Duration) error {
	var errs []error
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		if err := c.signal(i, syscall.SIGTERM, grace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// signal sends sig to member i and waits up to grace (forever for SIGKILL)
// for it to exit, killing it when grace runs out.
func (c *Cluster) signal(i int, sig syscall.Signal, grace time.Duration) error {
	m := c.Members[i]
	m.mu.Lock()
	proc, exited := m.proc, m.exited
	m.mu.Unlock()
	if proc == nil {
		return nil
	}
	_ = proc.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-exited
		return nil
	}
	select {
	case <-exited:
	case <-time.After(grace):
		_ = proc.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not exit within %v of %v", m.Name, grace, sig)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// etcd re-raises the signal it handled, so dying by sig is a clean exit.
	var ee *exec.ExitError
	if errors.As(m.exitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == sig {
			return nil
		}
	}
	if m.exitErr != nil {
		return fmt.Errorf("%s exited after %v: %w", m.Name, sig, m.exitErr)
	}
	return nil
}

// Restart starts member i again from its data dir. It does not wait for
// health; call WaitHealthy.
func (c *Cluster) Restart(i int) error { return c.start(i, "existing") }

// WaitHealthy polls until every running member answers a linearizable read
// and agrees on a leader, or ctx ends. A member that exits fails the wait at
// once with its log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = c.checkHealth(ctx)
		if last == nil || errors.Is(last, ErrMemberExited) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy: %w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func (c *Cluster) checkHealth(ctx context.Context) error {
	var leader uint64
	for _, m := range c.Members {
		m.mu.Lock()
		started, exited := m.proc != nil, m.exited
		m.mu.Unlock()
		if !started {
			continue
		}
		select {
		case <-exited:
			// exitErr was set before exited was closed.
			return fmt.Errorf("%w: %s: %v\n%s", ErrMemberExited, m.Name, m.exitErr, tail(m.Log(), 20))
		default:
		}
		st, err := memberStatus(ctx, m.Endpoint())
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if st.Leader == 0 {
			return fmt.Errorf("%s: no leader", m.Name)
		}
		if leader != 0 && st.Leader != leader {
			return fmt.Errorf("%s: sees leader %x, another member sees %x", m.Name, st.Leader, leader)
		}
		leader = st.Leader
	}
	return nil
}

// memberStatus asks one endpoint for its status and does a linearizable
// read through it, which needs a leader and a quorum.
func memberStatus(ctx context.Context, ep string) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cli, err := NewClient(ep)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	st, err := cli.Status(ctx, ep)
	if err != nil {
		return nil, err
	}
	if _, err := cli.Get(ctx, "e2e-health"); err != nil {
		return nil, err
	}
	return st, nil
}

// Leader returns the index of the member the running members agree leads.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	ids := map[uint64]int{}
	var leader uint64
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		st, err := memberStatus(ctx, m.Endpoint())
		if err != nil {
			return -1, fmt.Errorf("%s: %w", m.Name, err)
		}
		ids[st.Header.MemberId] = i
		leader = st.Leader
	}
	i, ok := ids[leader]
	if !ok {
		return -1, fmt.Errorf("leader %x is not a running member", leader)
	}
	return i, nil
}

// NewClient returns a quiet clientv3 client for the endpoints.
func NewClient(endpoints ...string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RemoveRegions removes the members' data directories with what their log
// backends keep outside them, such as the adr backend's emulated regions on
// tmpfs (a missing one is not an error). The members' backend is in their
// flags, not known here, so every backend of the binary's catalog, at its
// default settings as the members run it, destroys what it would have kept.
// Call it once the members are stopped for good.
func (c *Cluster) RemoveRegions() error {
	backends := catalog.DefaultConfigs().Registry()
	var errs []error
	for _, m := range c.Members {
		for _, name := range backends.Names() {
			errs = append(errs, store.RemoveDataDir(backends, name, m.DataDir))
		}
	}
	return errors.Join(errs...)
}
