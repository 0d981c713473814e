package harness

import (
	"context"
	"fmt"
	"time"
)

// Faulter is a Cluster whose members the harness started, so it can take
// one down and bring it back. Members are numbered as Endpoints are.
//
// What Kill means depends on the target: for process and etcd it is
// SIGKILL, a real crash (what the kernel has not been told to sync is in
// the page cache and survives; a power loss is out of reach). For inproc
// the member is first cut off from the in-process network, so from that
// instant no message reaches or leaves it, and then stopped; its log
// backend still runs its Close, so an inproc Kill does not lose unsynced
// writes the way a crash would. Crash tests that need real loss use the
// process target.
type Faulter interface {
	// Stop stops member i cleanly (SIGTERM for processes), waiting until
	// it has exited or ctx ends.
	Stop(ctx context.Context, i int) error
	// Kill stops member i abruptly and waits until it is gone.
	Kill(ctx context.Context, i int) error
	// Restart starts a stopped or killed member i again with the same data
	// directory, ports and flags, and returns when it serves clients
	// (not necessarily when it has caught up).
	Restart(ctx context.Context, i int) error
	// Leader polls the running members until one says it leads, and
	// returns its index; ErrNoLeader when ctx ends first.
	Leader(ctx context.Context) (int, error)
}

// The interfaces below are what the process and etcd targets add for
// fault injection (ClusterConfig.PeerCuts and DiskStalls); members are
// numbered as Endpoints are.

// Pauser is a Cluster whose members can be stopped without dying.
type Pauser interface {
	// Pause stops member i's process (SIGSTOP): it keeps its ports and
	// connections but answers nothing.
	Pause(i int) error
	// Resume continues member i's process (SIGCONT).
	Resume(i int) error
}

// Link is one direction of a peer link: member From's bytes to member To.
type Link struct{ From, To int }

// Partitioner is a Cluster whose peer links can be cut, one direction at
// a time, with the members running.
type Partitioner interface {
	// Cut drops every byte on the given links from now on, and lets every
	// other link flow: it replaces the previous cut, and Cut(nil) heals
	// the network.
	Cut(links []Link) error
}

// DiskStaller is a Cluster whose members' syncs can be slowed while they
// run.
type DiskStaller interface {
	// StallDisk adds d to every fsync and fdatasync of member i's data
	// directory from now on; d = 0 ends the stall and releases the syncs
	// it holds.
	StallDisk(i int, d time.Duration) error
}

// HealthWaiter is a Cluster that can wait until its members are healthy.
type HealthWaiter interface {
	// WaitHealthy returns once every running member that is not paused
	// answers a linearizable read and all name the same leader, or when
	// ctx ends.
	WaitHealthy(ctx context.Context) error
}

// NetInjector is a Cluster that can say what network latency it injects
// and how, for the run's record.
type NetInjector interface {
	NetInjection() NetInjection
}

// NetInjection records what was injected between members and how.
type NetInjection struct {
	// Method is "inproc-network" (the in-process transport's delay line)
	// or "tcp-proxy" (a delaying proxy in front of every member's peer
	// port), or "" when nothing is injected.
	Method string `json:"method,omitempty"`
	// Delay and Jitter are one-way, in each direction of every peer link.
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	Loss   float64       `json:"loss,omitempty"`
	// Links is the number of directed member-to-member links affected.
	Links int `json:"links,omitempty"`
}

// String is the one-line form for reports:
// "tcp-proxy: one-way 5ms ±1ms on 6 directed peer links".
func (n NetInjection) String() string {
	if n.Method == "" {
		return "none"
	}
	s := fmt.Sprintf("%s: one-way %v", n.Method, n.Delay)
	if n.Jitter > 0 {
		s += fmt.Sprintf(" ±%v", n.Jitter)
	}
	if n.Loss > 0 {
		s += fmt.Sprintf(", loss %g", n.Loss)
	}
	return s + fmt.Sprintf(" on %d directed peer links", n.Links)
}

func netInjection(method string, cfg ClusterConfig) NetInjection {
	if cfg.NetDelay == 0 && cfg.NetJitter == 0 && cfg.NetLoss == 0 {
		return NetInjection{}
	}
	return NetInjection{
		Method: method, Delay: cfg.NetDelay, Jitter: cfg.NetJitter, Loss: cfg.NetLoss,
		Links: cfg.Nodes * (cfg.Nodes - 1),
	}
}

func checkMember(i, n int) error {
	if i < 0 || i >= n {
		return fmt.Errorf("%w: member %d not in 0..%d", ErrConfig, i, n-1)
	}
	return nil
}
