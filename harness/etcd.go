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
	"time"
)

// etcdCluster is N real etcd processes on loopback ports, started with the
// same snapshot and timing settings our members get.
type etcdCluster struct {
	procs     []*exec.Cmd
	logs      []*os.File
	endpoints []string
	tmpDir    string
}

func startEtcd(ctx context.Context, cfg ClusterConfig) (_ *etcdCluster, err error) {
	bin := cfg.EtcdBinary
	if bin == "" {
		bin = "etcd"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: etcd binary %q: %w", ErrNotFound, bin, err)
	}
	c := &etcdCluster{}
	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "adrbench-etcd-"); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		c.tmpDir = dir
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ports, err := freePorts(2 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range cfg.Nodes {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[2*i+1]))
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	for i := range cfg.Nodes {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		name := fmt.Sprintf("m%d", i)
		args := []string{
			"--name", name,
			"--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "adrbench",
			"--snapshot-count", strconv.FormatUint(cfg.SnapshotCount, 10),
			"--heartbeat-interval", ms(cfg.HeartbeatInterval),
			"--election-timeout", ms(cfg.ElectionTimeout),
			"--logger", "zap", "--log-level", "warn",
		}
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTarget, err)
		}
		c.logs = append(c.logs, logf)
		// Not CommandContext: the members must outlive the start context.
		cmd := exec.Command(path, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%w: start etcd %s: %w", ErrTarget, name, err)
		}
		c.procs = append(c.procs, cmd)
		c.endpoints = append(c.endpoints, client)
	}
	if _, err := FindLeader(ctx, c.endpoints); err != nil {
		return nil, fmt.Errorf("%w (etcd logs in %s)", err, dir)
	}
	return c, nil
}

func (c *etcdCluster) Endpoints() []string { return c.endpoints }

func (c *etcdCluster) Syncs(ctx context.Context) (uint64, bool) {
	return scrapeSyncs(ctx, c.endpoints)
}

// ServerCPU sums the user and system time of the etcd processes from
// /proc/<pid>/stat, in USER_HZ ticks (100 per second on Linux: the kernel
// reports in that unit whatever its own HZ is).
func (c *etcdCluster) ServerCPU() (time.Duration, error) {
	var total time.Duration
	for _, p := range c.procs {
		if p.Process == nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Process.Pid))
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

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line; the command name in field 2 may hold spaces, so
// fields are counted from its closing parenthesis.
func parseProcStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed /proc stat %q", ErrTarget, s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short /proc stat %q", ErrTarget, s)
	}
	const userHZ = 100
	var ticks int64
	for _, x := range f[11:13] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc stat field %q: %w", ErrTarget, x, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// Close kills the members (a benchmark's data is disposable) and waits for
// them, then removes the temporary data directory.
func (c *etcdCluster) Close() error {
	var errs []error
	for _, p := range c.procs {
		if p.Process == nil {
			continue
		}
		if err := p.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
		// Wait reports the kill as an error; that is the expected end.
		var ee *exec.ExitError
		if err := p.Wait(); err != nil && !errors.As(err, &ee) {
			errs = append(errs, err)
		}
	}
	c.procs = nil
	for _, f := range c.logs {
		errs = append(errs, f.Close())
	}
	c.logs = nil
	if c.tmpDir != "" {
		errs = append(errs, os.RemoveAll(c.tmpDir))
	}
	return errors.Join(errs...)
}
