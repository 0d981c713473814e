package plan

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/results"
)

// Targets the model describes: adrbench's own store in this process or in
// child processes. Real etcd and external clusters run other code.
const (
	TargetInproc  = "inproc"
	TargetProcess = "process"
)

// Setup is one configuration of a cluster and its clients: what plan.json
// calls a point, without the answers.
type Setup struct {
	Target      string        `json:"target" yaml:"target"`
	Backend     string        `json:"backend" yaml:"backend"`
	Nodes       int           `json:"nodes" yaml:"nodes"`
	NetDelay    time.Duration `json:"net_delay" yaml:"net_delay"`
	NetJitter   time.Duration `json:"net_jitter,omitempty" yaml:"net_jitter"`
	DiskProfile string        `json:"disk_profile" yaml:"disk_profile"`
	// CoresPerMember 0 means every member and the client share the
	// machine's cores, as calibrated; c > 0 gives each member c cores of
	// its own (dedicated servers) and the generator a machine of its own.
	CoresPerMember int  `json:"cores_per_member" yaml:"cores_per_member"`
	Clients        int  `json:"clients" yaml:"clients"`
	Conns          int  `json:"conns" yaml:"conns"`
	KeySize        int  `json:"key_size" yaml:"key_size"`
	ValSize        int  `json:"val_size" yaml:"val_size"`
	ToLeader       bool `json:"to_leader,omitempty" yaml:"to_leader"`
}

// DefaultSetup is the Intel load on one inproc member: 1000 clients over
// 100 connections, 8-byte keys, 256-byte values, batched backend, native
// disk.
func DefaultSetup() Setup {
	return Setup{Target: TargetInproc, Backend: "batched", Nodes: 1, DiskProfile: diskprofile.Native,
		Clients: 1000, Conns: 100, KeySize: 8, ValSize: 256}
}

// Validate names the first bad field of s; backends are the names the
// binary knows.
func (s Setup) Validate(backends []string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case s.Target != TargetInproc && s.Target != TargetProcess:
		return fmt.Errorf("%w: target %q: the model describes adrbench's store (targets %s, %s), not other servers",
			ErrNotModelled, s.Target, TargetInproc, TargetProcess)
	case !slices.Contains(backends, s.Backend):
		return bad("unknown backend %q (known: %s)", s.Backend, strings.Join(backends, ", "))
	case s.Nodes < 1 || s.Nodes > 15:
		return bad("nodes %d not in 1..15", s.Nodes)
	case s.NetDelay < 0 || s.NetJitter < 0:
		return bad("net delay %v, jitter %v: want >= 0", s.NetDelay, s.NetJitter)
	case s.CoresPerMember < 0:
		return bad("cores per member %d: want 0 (shared, as calibrated) or more", s.CoresPerMember)
	case s.Clients < 1:
		return bad("clients %d < 1", s.Clients)
	case s.Conns < 1 || s.Conns > s.Clients:
		return bad("conns %d not in 1..clients (%d)", s.Conns, s.Clients)
	case s.KeySize < 1 || s.ValSize < 0:
		return bad("key size %d, value size %d", s.KeySize, s.ValSize)
	}
	if _, err := diskprofile.Lookup(s.DiskProfile); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// RTT is the round trip the setup's one-way delay makes.
func (s Setup) RTT() time.Duration { return 2 * s.NetDelay }

// Key identifies a setup among others (plan.json points, resumed runs).
func (s Setup) Key() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return strings.Join([]string{s.Target, s.Backend, "n=" + strconv.Itoa(s.Nodes),
		"delay_ms=" + f(ms(s.NetDelay)), "jitter_ms=" + f(ms(s.NetJitter)), "disk=" + s.DiskProfile,
		"cores=" + strconv.Itoa(s.CoresPerMember), "c=" + strconv.Itoa(s.Clients) + "/" + strconv.Itoa(s.Conns),
		"k=" + strconv.Itoa(s.KeySize), "v=" + strconv.Itoa(s.ValSize), "leader=" + strconv.FormatBool(s.ToLeader)}, "|")
}

// Label is the setup in a few words.
func (s Setup) Label() string {
	l := fmt.Sprintf("%s %s n=%d delay=%v disk=%s c=%d/%d v=%d", s.Target, s.Backend, s.Nodes, s.NetDelay, s.DiskProfile, s.Clients, s.Conns, s.ValSize)
	if s.CoresPerMember > 0 {
		l += fmt.Sprintf(" cores/member=%d", s.CoresPerMember)
	}
	if s.NetJitter > 0 {
		l += fmt.Sprintf(" jitter=%v", s.NetJitter)
	}
	return l
}

// SetupOf is the setup a measured point was taken in. Points of targets
// the model does not describe, or of other workloads than put, are
// refused with ErrNotModelled.
func SetupOf(p *results.Point) (Setup, error) {
	if p.Target != TargetInproc && p.Target != TargetProcess {
		return Setup{}, fmt.Errorf("%w: target %s (the model describes adrbench's store)", ErrNotModelled, p.Target)
	}
	if p.Workload != "put" {
		return Setup{}, fmt.Errorf("%w: workload %s (the model describes puts)", ErrNotModelled, p.Workload)
	}
	return Setup{
		Target: p.Target, Backend: p.Backend, Nodes: p.Nodes,
		NetDelay:    time.Duration(p.NetDelayMs * float64(time.Millisecond)),
		DiskProfile: p.DiskProfile, Clients: p.Clients, Conns: p.Conns,
		KeySize: p.KeySize, ValSize: p.ValSize,
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msDuration(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func numCPU() int { return runtime.NumCPU() }
