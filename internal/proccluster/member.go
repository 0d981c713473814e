package proccluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/process"
)

// Member is one member process of a Cluster. Its names, paths and URLs
// are fixed when the cluster starts; its process comes and goes with
// Kill, Stop and Restart.
type Member struct {
	name      string
	dataDir   string
	logPath   string
	clientURL string // http(s)://127.0.0.1:port, listened on and advertised
	// tls is how clients reach the client port; nil without TLS.
	tls     *tls.Config
	peerURL string // listened on
	// advertisePeerURL is what the other members dial: the peer front
	// when there is one, else peerURL.
	advertisePeerURL string

	mu      sync.Mutex
	cmd     *exec.Cmd     // the latest incarnation; nil before the first start
	exited  chan struct{} // closed once cmd has been waited for
	exitErr error         // set before exited is closed
	paused  bool
	// logStart is where the latest incarnation's output starts in the
	// log, which every incarnation appends to.
	logStart int64
	// deadCPU is the CPU time of the incarnations that have exited.
	deadCPU time.Duration
}

// Name is the member's --name.
func (m *Member) Name() string { return m.name }

// DataDir is the member's --data-dir.
func (m *Member) DataDir() string { return m.dataDir }

// LogPath is the file the member's stdout and stderr go to, every
// incarnation appended after a line naming its command.
func (m *Member) LogPath() string { return m.logPath }

// ClientURL is the member's client URL, http://127.0.0.1:port, or
// https:// with Config.TLS.
func (m *Member) ClientURL() string { return m.clientURL }

// Endpoint is the member's client address in the host:port form clientv3
// and etcdctl take.
func (m *Member) Endpoint() string { return hostPort(m.clientURL) }

// ClientTLS is how a client reaches the member's client port: nil
// without Config.TLS. It is shared; clone it to change it.
func (m *Member) ClientTLS() *tls.Config { return m.tls }

// hostPort is the host:port of an http:// or https:// URL.
func hostPort(url string) string {
	_, hp, _ := strings.Cut(url, "://")
	return hp
}

// PeerURL is the URL the member listens on for its peers.
func (m *Member) PeerURL() string { return m.peerURL }

// AdvertisePeerURL is the URL the other members dial: the peer front's
// when Config.PeerFront put one in front of the member, else PeerURL.
func (m *Member) AdvertisePeerURL() string { return m.advertisePeerURL }

// Running reports whether the member's process is alive (paused or not).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runningLocked()
}

func (m *Member) runningLocked() bool { return m.cmd != nil && !isClosed(m.exited) }

// Paused reports whether the member's process is alive and stopped by
// Pause.
func (m *Member) Paused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runningLocked() && m.paused
}

// Pid is the process id of the member's live process, 0 when none is.
func (m *Member) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.runningLocked() {
		return 0
	}
	return m.cmd.Process.Pid
}

// Log returns what the member's processes printed so far, every
// incarnation.
func (m *Member) Log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", m.logPath, err)
	}
	return string(b)
}

// LogTail returns the last n lines of Log, for error messages.
func (m *Member) LogTail(n int) string { return tail(m.Log(), n) }

// incarnationLog returns what the latest incarnation printed.
func (m *Member) incarnationLog() string {
	m.mu.Lock()
	start, started := m.logStart, m.cmd != nil
	m.mu.Unlock()
	if !started {
		return ""
	}
	f, err := os.Open(m.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, start, 1<<40))
	if err != nil {
		return ""
	}
	return string(b)
}

// CPU is the user plus system CPU time of every incarnation of the member
// so far: the live process's as the kernel counts it now, the exited ones'
// from their exit status.
func (m *Member) CPU() (time.Duration, error) {
	m.mu.Lock()
	dead := m.deadCPU
	var pid int
	exited := m.exited
	if m.runningLocked() {
		pid = m.cmd.Process.Pid
	}
	m.mu.Unlock()
	if pid == 0 {
		return dead, nil
	}
	live, err := processCPU(pid)
	if err == nil {
		return dead + live, nil
	}
	// The process may have exited since: then its time is in deadCPU
	// once it has been waited for.
	if isClosed(exited) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.deadCPU, nil
	}
	return 0, fmt.Errorf("proccluster: CPU of %s (pid %d): %w", m.name, pid, err)
}

// processCPU reads the user and system time of a live process.
func processCPU(pid int) (time.Duration, error) {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		return 0, err
	}
	t, err := p.Times()
	if err != nil {
		return 0, err
	}
	return time.Duration((t.User + t.System) * float64(time.Second)), nil
}

// start runs the member's command with args, its output appended to the
// log. It does not wait for anything.
func (m *Member) start(command, args []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runningLocked() {
		return fmt.Errorf("%w: start %s", ErrRunning, m.name)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("proccluster: start %s: %w", m.name, err)
	}
	st, err := logf.Stat()
	if err != nil {
		logf.Close()
		return fmt.Errorf("proccluster: start %s: %w", m.name, err)
	}
	full := append(append([]string{}, command[1:]...), args...)
	fmt.Fprintf(logf, "=== %s %s\n", command[0], strings.Join(full, " "))
	// Not CommandContext: members outlive the context that started them.
	cmd := exec.Command(command[0], full...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("proccluster: start %s: %w", m.name, err)
	}
	exited := make(chan struct{})
	m.cmd, m.exited, m.exitErr, m.paused, m.logStart = cmd, exited, nil, false, st.Size()
	go func() {
		err := cmd.Wait()
		logf.Close()
		m.mu.Lock()
		m.exitErr = err
		if ps := cmd.ProcessState; ps != nil {
			m.deadCPU += ps.UserTime() + ps.SystemTime()
		}
		m.mu.Unlock()
		close(exited)
	}()
	return nil
}

// live returns the member's process and its exit channel, or nil when no
// process is alive.
func (m *Member) live() (*exec.Cmd, chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.runningLocked() {
		return nil, nil
	}
	return m.cmd, m.exited
}

// signal sends sig to the live process; a process that is already gone is
// not an error.
func (m *Member) signal(cmd *exec.Cmd, sig syscall.Signal) error {
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("proccluster: %v to %s: %w", sig, m.name, err)
	}
	return nil
}

// exitedBy says how the process that closed exited ended, nil when it
// was a clean exit or a death by sig (etcd re-raises the signal it
// handled, so that is how it stops cleanly).
func (m *Member) exitedBy(sig syscall.Signal) error {
	m.mu.Lock()
	err := m.exitErr
	m.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == sig {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %s exited after %v: %w", ErrStop, m.name, sig, err)
	}
	return nil
}

// exitedErr describes an exit the cluster did not ask for, with the
// incarnation's last lines.
func (m *Member) exitedErr() error {
	m.mu.Lock()
	err := m.exitErr
	m.mu.Unlock()
	return fmt.Errorf("%w: %s: %v\n%s", ErrMemberExited, m.name, err, tail(m.incarnationLog(), 20))
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
