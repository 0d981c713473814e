package qualify

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Check groups, in the order Run runs them and the table shows them.
const (
	GroupDisk   = "disk"
	GroupPMem   = "pmem"
	GroupCPU    = "cpu"
	GroupMemory = "memory"
	GroupNet    = "net"
	GroupClock  = "clock"
	GroupE2E    = "e2e"
)

// Groups lists the check groups in the order they run.
func Groups() []string {
	return []string{GroupDisk, GroupPMem, GroupCPU, GroupMemory, GroupNet, GroupClock, GroupE2E}
}

// Config is one qualification.
type Config struct {
	// Dir is the directory to qualify: the disk checks, the MAP_SYNC
	// probe and the end-to-end member work in a temporary directory made
	// inside it and always removed. It must exist and be writable.
	Dir     string
	Profile Profile
	// Peers are host:port addresses of `adrbench qualify serve`
	// responders.
	Peers []string
	Quick bool
	// Limits bounds every measurement; the zero value takes
	// QuickLimits or FullLimits by Quick.
	Limits Limits
	// Out, when set, receives qualify.json, the raw histograms, the
	// figures and report.html.
	Out string
	// LogBackend is the log backend of the end-to-end member.
	LogBackend string
	// E2ETarget is the harness target of the end-to-end member: process
	// (an `adrbench serve` child, the default) or inproc (in this process;
	// for tests, which have no adrbench binary to start).
	E2ETarget string
	// ServeBinary is the adrbench executable the process target starts;
	// "" means this program.
	ServeBinary string
	// Tiers are the end-to-end loads; nil means CheckPerfTiers.
	Tiers []Tier
	// Backends opens log backends for in-process members: the CPU check's
	// memory-backed store, and an inproc end-to-end member.
	Backends *logbackends.Registry
	// FS is the file system the disk checks write through; nil is the
	// real one. Any other cannot be measured by fio, whose checks then
	// skip.
	FS vfs.FS
	// Fio is the fio executable; "" looks for fio on PATH.
	Fio string
	// Skip lists groups not to run; their checks skip with that reason.
	Skip []string
	// Progress, when set, shows what is being measured on one rewritten
	// line: meant for a terminal.
	Progress io.Writer
	// OnCheck, when set, is called with every check as it completes.
	OnCheck func(Check)
}

// Limits bound the measurements of a run: how long each lasts and how
// much it writes.
type Limits struct {
	// DiskRounds alternate Go and fio measurements of the WAL pattern,
	// each lasting DiskRound at most, so the two are compared on the same
	// disk at nearly the same time. A Go round writes at most WALBytes
	// into a file preallocated to that size, as fio's etcd job does with
	// its 22 MiB; the 8000-byte pattern writes at most WAL8kBytes
	// (OpenShift's job: 100 MiB).
	DiskRounds int           `json:"disk_rounds"`
	DiskRound  time.Duration `json:"disk_round_ns"`
	WALBytes   int64         `json:"wal_bytes"`
	WAL8kBytes int64         `json:"wal8k_bytes"`
	// Disk8k and Commit bound the 8000-byte WAL and the commit patterns;
	// CommitFile is the size of the file the commits write into.
	Disk8k     time.Duration `json:"disk_8k_ns"`
	Commit     time.Duration `json:"commit_ns"`
	CommitFile int64         `json:"commit_file_bytes"`
	// PMemFlushes is how many flush+fence pairs are timed.
	PMemFlushes int `json:"pmem_flushes"`
	// CPU bounds the write-capacity measurement.
	CPU time.Duration `json:"cpu_ns"`
	// NetProbes round trips NetInterval apart, each lost after
	// NetTimeout; NetThroughput each way.
	NetProbes     int           `json:"net_probes"`
	NetInterval   time.Duration `json:"net_interval_ns"`
	NetTimeout    time.Duration `json:"net_timeout_ns"`
	NetThroughput time.Duration `json:"net_throughput_ns"`
	// E2ETier is how long each end-to-end tier is measured, after
	// E2EWarmup.
	E2ETier   time.Duration `json:"e2e_tier_ns"`
	E2EWarmup time.Duration `json:"e2e_warmup_ns"`
}

// QuickLimits fit a whole run in under two minutes on a two-core
// machine. The WAL pattern gets 16 short rounds each way: on a shared
// virtual disk whose tail jumps from one second to the next, many short
// interleaved rounds let Go and fio meet the same bursts, which few long
// ones do not.
func QuickLimits() Limits {
	return Limits{
		DiskRounds: 16, DiskRound: 600 * time.Millisecond, WALBytes: etcdJobBytes, WAL8kBytes: openShiftJobBytes,
		Disk8k: 3 * time.Second, Commit: 3 * time.Second, CommitFile: 16 << 20,
		PMemFlushes: 100000,
		CPU:         3 * time.Second,
		NetProbes:   200, NetInterval: 5 * time.Millisecond, NetTimeout: time.Second, NetThroughput: time.Second,
		E2ETier: 5 * time.Second, E2EWarmup: time.Second,
	}
}

// FullLimits fit a whole run in under ten minutes: check perf's 60 s
// per tier, and twice the quick run's disk rounds, each longer.
func FullLimits() Limits {
	return Limits{
		DiskRounds: 32, DiskRound: 1500 * time.Millisecond, WALBytes: etcdJobBytes, WAL8kBytes: openShiftJobBytes,
		Disk8k: 15 * time.Second, Commit: 15 * time.Second, CommitFile: 64 << 20,
		PMemFlushes: 1000000,
		CPU:         10 * time.Second,
		NetProbes:   1000, NetInterval: 10 * time.Millisecond, NetTimeout: time.Second, NetThroughput: 3 * time.Second,
		E2ETier: 60 * time.Second, E2EWarmup: time.Second,
	}
}

// DefaultConfig qualifies the working directory against the etcd profile,
// its end-to-end member on the batched backend (etcd's own WAL behaviour)
// in a child process.
func DefaultConfig() Config {
	return Config{Dir: ".", Profile: EtcdProfile(), LogBackend: "batched", E2ETarget: "process"}
}

// Validate checks c without touching the system (Run checks the directory)
// and names the first bad field.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if c.Dir == "" {
		return bad("dir is empty")
	}
	if err := c.Profile.Validate(); err != nil {
		return err
	}
	for _, p := range c.Peers {
		if _, _, err := splitPeer(p); err != nil {
			return err
		}
	}
	for _, g := range c.Skip {
		if !slices.Contains(Groups(), g) {
			return bad("skip %q (groups: %s)", g, strings.Join(Groups(), ", "))
		}
	}
	if c.LogBackend == "" && !slices.Contains(c.Skip, GroupE2E) {
		return bad("log backend is empty")
	}
	switch c.E2ETarget {
	case "process", "inproc":
	default:
		return bad("e2e target %q (want process or inproc)", c.E2ETarget)
	}
	if c.Backends == nil && (c.E2ETarget == "inproc" || !slices.Contains(c.Skip, GroupCPU)) {
		return bad("backends registry is nil: the cpu check and an inproc e2e member need one")
	}
	for i, t := range c.Tiers {
		if tierIndex(t.Name) == 0 || !(t.Rate > 0) || t.Clients < 1 {
			return bad("tiers[%d]: %+v (want a tier name of %s, rate > 0, clients >= 1)", i, t, strings.Join(tierNames(), ", "))
		}
	}
	d := c.Limits
	if d != (Limits{}) {
		if d.DiskRounds < 1 || d.DiskRound <= 0 || d.WALBytes < 64<<10 || d.WAL8kBytes < 64<<10 || d.Disk8k <= 0 || d.Commit <= 0 || d.CommitFile < 1<<20 ||
			d.PMemFlushes < 1 || d.CPU <= 0 || d.NetProbes < 1 || d.NetInterval < 0 || d.NetTimeout <= 0 ||
			d.NetThroughput <= 0 || d.E2ETier <= 0 || d.E2EWarmup < 0 {
			return bad("limits %+v: every count and duration must be positive, the WAL files at least 64 KiB, the commit file at least 1 MiB", d)
		}
	}
	return nil
}

// splitPeer checks that a peer address is host:port with a port number.
func splitPeer(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w %q: want host:port (%w)", ErrPeer, addr, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%w %q: the host is empty", ErrPeer, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("%w %q: port %q is not a number in 1..65535", ErrPeer, addr, port)
	}
	return host, n, nil
}

// ResolvePeers checks every peer address and resolves its host, so that a
// typo ends qualification before it starts rather than failing a check.
func ResolvePeers(ctx context.Context, peers []string) error {
	for _, p := range peers {
		host, _, err := splitPeer(p)
		if err != nil {
			return err
		}
		if net.ParseIP(host) != nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		if err != nil {
			return fmt.Errorf("%w %q: cannot resolve %s: %w", ErrPeer, p, host, err)
		}
	}
	return nil
}

// ParsePeers splits a comma-separated --peers value and checks each.
func ParsePeers(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var peers []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if _, _, err := splitPeer(p); err != nil {
			return nil, err
		}
		if !slices.Contains(peers, p) {
			peers = append(peers, p)
		}
	}
	return peers, nil
}
