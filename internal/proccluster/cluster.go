package proccluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/adrbench/adrbench/internal/ports"
	"github.com/adrbench/adrbench/store"
)

// startAttempts bounds how often Start picks new ports after a member lost
// one to another process between the probe and its bind.
const startAttempts = 3

// maxSize bounds Config.Size: raft clusters past a handful of members are
// not what this runs, and a typo should not start a hundred processes.
const maxSize = 15

// Config says what to run. etcd and `adrbench serve` take the same flags,
// so only Command and Flags tell them apart.
type Config struct {
	// Command is the binary and the arguments before the flags:
	// {"/usr/bin/etcd"} or {"/tmp/x/adrbench", "serve"}.
	Command []string
	// Flags are given to every member after the cluster's own flags, e.g.
	// {"--log-backend=batched"}.
	Flags []string
	// MemberFlags, when set, gives member i's own flags, after Flags:
	// what must differ between members beyond the cluster's flags (the
	// adr backend's region path, say). name is the member's name, m<i>.
	MemberFlags func(i int, name string) []string
	// Size is the number of members.
	Size int
	// Dir holds member i's data directory Dir/m<i> and its log
	// Dir/m<i>.log. It must exist.
	Dir string
	// PeerFront, when set, is called for every member with the address
	// its process listens on for peers; it returns the address the other
	// members should dial instead, and what to close with the cluster
	// (a delaying proxy, for example). Members advertise the front, so
	// every peer connection to a member passes its front whichever side
	// dials. A nil closer means there is nothing to close.
	PeerFront func(listenAddr string) (advertiseAddr string, closer io.Closer, err error)
	// RemoveMember removes one member's data directory and whatever else
	// its log backend keeps for it. nil means os.RemoveAll.
	RemoveMember func(dataDir string) error
	// TLS, when set, starts the members with client and peer TLS and
	// client certificates required on both ports, https URLs, and has the
	// cluster's own clients connect with it.
	TLS *TLS
	// KeepData leaves the members' data directories to the caller: Close
	// and a failed Start do not remove them. Data of an attempt that lost
	// its ports is removed before the next attempt either way, since the
	// next attempt's members have other ids.
	KeepData bool
}

// Validate names the first bad field of c.
func (c Config) Validate() error {
	switch {
	case len(c.Command) == 0 || c.Command[0] == "":
		return fmt.Errorf("%w: command is empty", ErrConfig)
	case c.Size < 1 || c.Size > maxSize:
		return fmt.Errorf("%w: size %d not in 1..%d", ErrConfig, c.Size, maxSize)
	case c.Dir == "":
		return fmt.Errorf("%w: dir is empty", ErrConfig)
	case c.TLS != nil:
		return c.TLS.Validate()
	}
	return nil
}

// Cluster is Config.Size member processes on loopback ports, member i
// named m<i>.
type Cluster struct {
	cfg     Config
	token   string
	members []*Member
	fronts  []io.Closer

	closeOnce sync.Once
	closeErr  error
}

// Start starts a cluster with a fresh initial cluster and returns once it
// is healthy (see WaitHealthy). A member that exits meanwhile fails the
// start at once with its log; one that lost its port to another process
// makes Start try again on new ports. On error every started process has
// been killed and, unless KeepData, the data directories removed.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RemoveMember == nil {
		cfg.RemoveMember = os.RemoveAll
	}
	var lastErr error
	for attempt := range startAttempts {
		c, err := layout(cfg, attempt)
		if err == nil && attempt > 0 {
			err = c.removeData()
		}
		if err == nil {
			err = c.startAll(ctx)
		}
		if err == nil {
			return c, nil
		}
		lost := c.lostPort()
		c.abandon()
		if !lost {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%w: %d attempts: %w", ErrPortsLost, startAttempts, lastErr)
}

// layout picks the ports of one start attempt and puts the fronts in place.
func layout(cfg Config, attempt int) (*Cluster, error) {
	c := &Cluster{cfg: cfg, token: fmt.Sprintf("proccluster-%d-%d", os.Getpid(), attempt)}
	free, err := ports.Free(2 * cfg.Size)
	if err != nil {
		return c, fmt.Errorf("proccluster: %w", err)
	}
	scheme := "http"
	var clientTLS *tls.Config
	if cfg.TLS != nil {
		scheme = "https"
		if clientTLS, err = cfg.TLS.ClientConfig(); err != nil {
			return c, err
		}
	}
	for i := range cfg.Size {
		name := fmt.Sprintf("m%d", i)
		m := &Member{
			name:      name,
			dataDir:   filepath.Join(cfg.Dir, name),
			logPath:   filepath.Join(cfg.Dir, name+".log"),
			clientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, free[2*i]),
			peerURL:   fmt.Sprintf("%s://127.0.0.1:%d", scheme, free[2*i+1]),
			tls:       clientTLS,
		}
		m.advertisePeerURL = m.peerURL
		c.members = append(c.members, m)
		if cfg.PeerFront == nil {
			continue
		}
		addr, closer, err := cfg.PeerFront(hostPort(m.peerURL))
		if err != nil {
			return c, fmt.Errorf("proccluster: peer front of %s: %w", name, err)
		}
		if closer != nil {
			c.fronts = append(c.fronts, closer)
		}
		m.advertisePeerURL = scheme + "://" + addr
	}
	return c, nil
}

// startAll starts every member as part of a new cluster and waits for
// health.
func (c *Cluster) startAll(ctx context.Context) error {
	for i := range c.members {
		if err := c.start(i, "new"); err != nil {
			return err
		}
	}
	return waitHealthy(ctx, c.members)
}

// abandon ends a failed start attempt: it kills the members, closes the
// fronts and removes the data unless the caller keeps it.
func (c *Cluster) abandon() {
	c.killAll()
	_ = c.closeFronts()
	if !c.cfg.KeepData {
		_ = c.removeData()
	}
}

// lostPort reports whether a member of the latest attempt failed because
// its port was taken.
func (c *Cluster) lostPort() bool {
	for _, m := range c.members {
		if strings.Contains(m.incarnationLog(), "address already in use") {
			return true
		}
	}
	return false
}

// initialCluster is the --initial-cluster value: every member at the
// peer URL the others dial.
func (c *Cluster) initialCluster() string {
	ms := make([]store.Member, len(c.members))
	for i, m := range c.members {
		ms[i] = store.Member{Name: m.name, PeerURLs: []string{m.advertisePeerURL}}
	}
	return store.FormatInitialCluster(ms)
}

// args is member i's command line after Command: etcd's flags for a
// static cluster, then Config.Flags, then its Config.MemberFlags.
func (c *Cluster) args(i int, state string) []string {
	m := c.members[i]
	args := []string{
		"--name=" + m.name,
		"--data-dir=" + m.dataDir,
		"--listen-client-urls=" + m.clientURL,
		"--advertise-client-urls=" + m.clientURL,
		"--listen-peer-urls=" + m.peerURL,
		"--initial-advertise-peer-urls=" + m.advertisePeerURL,
		"--initial-cluster=" + c.initialCluster(),
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
	}
	if c.cfg.TLS != nil {
		args = append(args, c.cfg.TLS.flags(i, m.name)...)
	}
	args = append(args, c.cfg.Flags...)
	if c.cfg.MemberFlags != nil {
		args = append(args, c.cfg.MemberFlags(i, m.name)...)
	}
	return args
}

func (c *Cluster) start(i int, state string) error {
	return c.members[i].start(c.cfg.Command, c.args(i, state))
}

func (c *Cluster) member(i int) (*Member, error) {
	if i < 0 || i >= len(c.members) {
		return nil, fmt.Errorf("%w: member %d not in 0..%d", ErrNoMember, i, len(c.members)-1)
	}
	return c.members[i], nil
}

// Size is the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Member returns member i; it panics when i is out of range, as indexing
// does.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Members returns the members, member 0 first.
func (c *Cluster) Members() []*Member { return append([]*Member(nil), c.members...) }

// Endpoints returns the members' client addresses (host:port), member 0
// first.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// Restart starts member i again from its data directory, with the same
// ports and flags and --initial-cluster-state existing. It does not wait:
// call WaitServing or WaitHealthy. (A member restarted while a quorum is
// down cannot serve until enough others are back, and real etcd does not
// even open its client port before that.)
func (c *Cluster) Restart(i int) error {
	if _, err := c.member(i); err != nil {
		return err
	}
	return c.start(i, "existing")
}

// Kill sends SIGKILL to member i and waits until it has exited. A member
// that is not running is left alone.
func (c *Cluster) Kill(ctx context.Context, i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	cmd, exited := m.live()
	if cmd == nil {
		return nil
	}
	if err := m.signal(cmd, syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proccluster: %s not reaped after SIGKILL: %w", m.name, ctx.Err())
	}
}

// KillAll sends SIGKILL to every running member at once, so they die
// together as in a power cut of the whole cluster, and waits until all
// have exited.
func (c *Cluster) KillAll(ctx context.Context) error {
	var waits []chan struct{}
	var errs []error
	for _, m := range c.members {
		cmd, exited := m.live()
		if cmd == nil {
			continue
		}
		errs = append(errs, m.signal(cmd, syscall.SIGKILL))
		waits = append(waits, exited)
	}
	for _, exited := range waits {
		select {
		case <-exited:
		case <-ctx.Done():
			return fmt.Errorf("proccluster: members not reaped after SIGKILL: %w", ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// killAll is KillAll that waits as long as it takes; SIGKILL cannot be
// refused, so it does not take long.
func (c *Cluster) killAll() { _ = c.KillAll(context.Background()) }

// Stop asks member i to stop with SIGTERM and waits until it has exited.
// When ctx ends first the member is killed, so it never outlives the
// call, and Stop returns ErrStop; so it does when the member exits with an
// error. A member that is not running is left alone.
func (c *Cluster) Stop(ctx context.Context, i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	return c.stop(ctx, m)
}

// StopAll stops every running member as Stop does, all at once.
func (c *Cluster) StopAll(ctx context.Context) error {
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() { errs[i] = c.stop(ctx, m) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) stop(ctx context.Context, m *Member) error {
	cmd, exited := m.live()
	if cmd == nil {
		return nil
	}
	if err := m.signal(cmd, syscall.SIGTERM); err != nil {
		return err
	}
	// A stopped process keeps SIGTERM pending until it runs again.
	if m.Paused() {
		if err := m.signal(cmd, syscall.SIGCONT); err != nil {
			return err
		}
	}
	select {
	case <-exited:
		return m.exitedBy(syscall.SIGTERM)
	case <-ctx.Done():
		_ = m.signal(cmd, syscall.SIGKILL)
		<-exited
		return fmt.Errorf("%w: %s did not exit on SIGTERM: %w", ErrStop, m.name, ctx.Err())
	}
}

// Pause stops member i's process with SIGSTOP: it keeps its ports and
// connections but answers nothing, as a member stuck in a long pause
// would. Pausing a paused member does nothing.
func (c *Cluster) Pause(i int) error { return c.setPaused(i, true) }

// Resume continues member i's process after Pause with SIGCONT.
func (c *Cluster) Resume(i int) error { return c.setPaused(i, false) }

func (c *Cluster) setPaused(i int, pause bool) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if !m.runningLocked() {
		m.mu.Unlock()
		return fmt.Errorf("%w: pause or resume %s", ErrNotRunning, m.name)
	}
	if m.paused == pause {
		m.mu.Unlock()
		return nil
	}
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if err := m.signal(m.cmd, sig); err != nil {
		m.mu.Unlock()
		return err
	}
	m.paused = pause
	pid, exited := m.cmd.Process.Pid, m.exited
	m.mu.Unlock()
	if pause {
		// SIGSTOP is delivered asynchronously: a member that still runs
		// for a moment after Pause returned could answer a request the
		// caller counts on it not answering.
		return waitStopped(pid, exited)
	}
	return nil
}

// stopWait bounds how long Pause waits for the kernel to stop a process
// it sent SIGSTOP.
const stopWait = 5 * time.Second

// waitStopped polls until the process pid is in the stopped state, it
// exits, or stopWait passes.
func waitStopped(pid int, exited <-chan struct{}) error {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		return fmt.Errorf("pause: process %d: %w", pid, err)
	}
	deadline := time.Now().Add(stopWait)
	for {
		st, err := p.Status()
		if err == nil && slices.Contains(st, process.Stop) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%w: process %d exited while being paused", ErrNotRunning, pid)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pause: process %d not stopped %v after SIGSTOP (status %v, %v)", pid, stopWait, st, err)
		}
	}
}

// CPU sums the members' CPU time, every incarnation of each (see
// Member.CPU).
func (c *Cluster) CPU() (time.Duration, error) {
	var total time.Duration
	for _, m := range c.members {
		d, err := m.CPU()
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// Close kills the members (what they hold is disposable; call StopAll
// first for a clean stop), closes the peer fronts and, unless KeepData,
// removes the members' data with RemoveMember. The logs stay in Dir.
// Calling it again returns the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.killAll()
		errs := []error{c.closeFronts()}
		if !c.cfg.KeepData {
			errs = append(errs, c.removeData())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

func (c *Cluster) closeFronts() error {
	var errs []error
	for _, f := range c.fronts {
		errs = append(errs, f.Close())
	}
	c.fronts = nil
	return errors.Join(errs...)
}

// removeData removes every member's data directory with RemoveMember.
func (c *Cluster) removeData() error {
	var errs []error
	for _, m := range c.members {
		if err := c.cfg.RemoveMember(m.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("proccluster: remove %s's data: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}
