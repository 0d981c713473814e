package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/adrbench/adrbench/harness"
)

// Fault names. Each injected fault holds for a while (Config.FaultHold)
// and is then healed, and the next one waits until the cluster is healthy
// again, so faults never add up to the loss of a majority.
const (
	// FaultKill kills a member at random (SIGKILL) and restarts it from
	// its data directory; FaultKillLeader kills the leader.
	FaultKill       = "kill"
	FaultKillLeader = "kill-leader"
	// FaultPause stops a member at random (SIGSTOP) and continues it
	// (SIGCONT); FaultPauseLeader pauses the leader.
	FaultPause       = "pause"
	FaultPauseLeader = "pause-leader"
	// FaultPartition is one of the partitions below, drawn each time.
	FaultPartition = "partition"
	// FaultIsolateLeader cuts the leader off from every peer, both ways.
	FaultIsolateLeader = "isolate-leader"
	// FaultIsolate cuts a member at random off from every peer.
	FaultIsolate = "isolate"
	// FaultSplit splits the members into a minority and a majority at
	// random.
	FaultSplit = "split"
	// FaultOneWay drops one direction only of a random member's links:
	// either it hears no peer, or no peer hears it.
	FaultOneWay = "one-way"
	// FaultFlap cuts a random member off and reconnects it, again and
	// again, a few times per hold.
	FaultFlap = "flap"
	// FaultStall delays every sync of a random member's data directory
	// (a disk stall); FaultStallLeader the leader's. It needs FUSE.
	FaultStall       = "stall"
	FaultStallLeader = "stall-leader"
)

// Faults lists the fault names, in the order the help shows them.
func Faults() []string {
	return []string{
		FaultKill, FaultKillLeader, FaultPause, FaultPauseLeader,
		FaultPartition, FaultIsolateLeader, FaultIsolate, FaultSplit, FaultOneWay, FaultFlap,
		FaultStall, FaultStallLeader,
	}
}

// partitionFaults are what FaultPartition draws from.
func partitionFaults() []string {
	return []string{FaultIsolateLeader, FaultIsolate, FaultSplit, FaultOneWay, FaultFlap}
}

// partitions reports whether fault f cuts peer links.
func partitions(f string) bool { return f == FaultPartition || slices.Contains(partitionFaults(), f) }

// stalls reports whether fault f stalls a disk.
func stalls(f string) bool { return f == FaultStall || f == FaultStallLeader }

// FaultEvent is one injected fault, with times in seconds since the
// clients started.
type FaultEvent struct {
	Fault  string  `json:"fault"`
	Detail string  `json:"detail"`
	Start  float64 `json:"start_s"`
	// End is when the fault was healed.
	End float64 `json:"end_s"`
	// Healthy is when every member was healthy again; 0 when the cluster
	// did not recover (Error says why).
	Healthy float64 `json:"healthy_s,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// faultCluster is what the check needs of a cluster: the process and etcd
// targets prepared with peer cuts.
type faultCluster interface {
	harness.Cluster
	harness.Faulter
	harness.Pauser
	harness.Partitioner
	harness.HealthWaiter
}

// nemesis injects faults into a cluster, one at a time, until its context
// ends.
type nemesis struct {
	cl       faultCluster
	stall    harness.DiskStaller // nil unless a stall fault is configured
	cfg      Config
	rng      *rand.Rand
	start    time.Time
	progress io.Writer

	mu     sync.Mutex
	events []FaultEvent
}

func (n *nemesis) since() float64 { return time.Since(n.start).Seconds() }

// draw is d scaled uniformly between a half and one and a half.
func (n *nemesis) draw(d time.Duration) time.Duration {
	return d/2 + time.Duration(n.rng.Int64N(int64(d)+1))
}

// run injects faults until ctx ends; the fault in progress then is healed
// at once.
func (n *nemesis) run(ctx context.Context) {
	for {
		if !sleep(ctx, n.draw(n.cfg.FaultGap)) {
			return
		}
		fault := n.cfg.Faults[n.rng.IntN(len(n.cfg.Faults))]
		if fault == FaultPartition {
			pf := partitionFaults()
			fault = pf[n.rng.IntN(len(pf))]
		}
		ev := n.inject(ctx, fault)
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.mu.Unlock()
		if n.progress != nil {
			fmt.Fprintln(n.progress, ev.line())
		}
	}
}

// Events returns the faults injected so far.
func (n *nemesis) Events() []FaultEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events)
}

// inject applies one fault, holds it, heals it and waits for the cluster
// to be healthy again.
func (n *nemesis) inject(ctx context.Context, fault string) FaultEvent {
	ev := FaultEvent{Fault: fault, Start: n.since()}
	hold := n.draw(n.cfg.FaultHold)
	// Healing and recovery must happen whatever ctx does.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Recover)
	defer cancel()
	detail, err := n.apply(ctx, rctx, fault, hold)
	ev.Detail, ev.End = detail, n.since()
	if err == nil {
		err = n.cl.WaitHealthy(rctx)
	}
	if err != nil {
		ev.Error = err.Error()
		return ev
	}
	ev.Healthy = n.since()
	return ev
}

// apply injects fault, holds it for hold or until ctx ends, and heals it
// within rctx. It returns what it did.
func (n *nemesis) apply(ctx, rctx context.Context, fault string, hold time.Duration) (string, error) {
	size := len(n.cl.Endpoints())
	leader, lerr := n.cl.Leader(rctx)
	target := n.rng.IntN(size)
	switch fault {
	case FaultKillLeader, FaultPauseLeader, FaultIsolateLeader, FaultStallLeader:
		if lerr != nil {
			return "no leader to fault", lerr
		}
		target = leader
	}
	who := memberName(target)
	if lerr == nil && target == leader {
		who += " (leader)"
	}
	switch fault {
	case FaultKill, FaultKillLeader:
		if err := n.cl.Kill(rctx, target); err != nil {
			return who + " not killed", err
		}
		sleep(ctx, hold)
		if err := n.cl.Restart(rctx, target); err != nil {
			return who + " killed, not restarted", err
		}
		return who + " killed, restarted", nil
	case FaultPause, FaultPauseLeader:
		if err := n.cl.Pause(target); err != nil {
			return who + " not paused", err
		}
		sleep(ctx, hold)
		if err := n.cl.Resume(target); err != nil {
			return who + " paused, not resumed", err
		}
		return who + " paused, resumed", nil
	case FaultIsolateLeader, FaultIsolate:
		return n.cut(ctx, hold, isolate(target, size), who+" cut off from every peer")
	case FaultSplit:
		order := n.rng.Perm(size)
		minority := order[:(size-1)/2]
		return n.cut(ctx, hold, split(minority, size), describeSplit(minority, size, leader, lerr == nil))
	case FaultOneWay:
		if n.rng.IntN(2) == 0 {
			return n.cut(ctx, hold, oneWay(target, size, false), "every peer's bytes to "+who+" dropped")
		}
		return n.cut(ctx, hold, oneWay(target, size, true), who+"'s bytes to every peer dropped")
	case FaultFlap:
		return n.flap(ctx, hold, target, size, who)
	case FaultStall, FaultStallLeader:
		return n.stallDisk(ctx, hold, target, who)
	}
	return "", fmt.Errorf("%w %q", ErrUnknownFault, fault)
}

func (n *nemesis) cut(ctx context.Context, hold time.Duration, links []harness.Link, detail string) (string, error) {
	if err := n.cl.Cut(links); err != nil {
		return detail + ": not cut", err
	}
	sleep(ctx, hold)
	if err := n.cl.Cut(nil); err != nil {
		return detail + ": not healed", err
	}
	return detail, nil
}

// flap cuts member i off and reconnects it for random spans of a tenth
// to a fifth of hold each, until hold has passed.
func (n *nemesis) flap(ctx context.Context, hold time.Duration, i, size int, who string) (string, error) {
	end := time.Now().Add(hold)
	flips := 0
	for cut := true; time.Now().Before(end) && ctx.Err() == nil; cut = !cut {
		var links []harness.Link
		if cut {
			links = isolate(i, size)
			flips++
		}
		if err := n.cl.Cut(links); err != nil {
			return fmt.Sprintf("%s's links flapping (%d cuts), then failed", who, flips), errors.Join(err, n.cl.Cut(nil))
		}
		span := hold/10 + time.Duration(n.rng.Int64N(int64(hold/10)+1))
		sleep(ctx, min(span, time.Until(end)))
	}
	detail := fmt.Sprintf("%s's links flapped (%d cuts)", who, flips)
	if err := n.cl.Cut(nil); err != nil {
		return detail + ": not healed", err
	}
	return detail, nil
}

// stallDisk delays member i's syncs by a delay drawn between a fifth and
// all of hold, for hold.
func (n *nemesis) stallDisk(ctx context.Context, hold time.Duration, i int, who string) (string, error) {
	if n.stall == nil {
		return who + ": no disk to stall", fmt.Errorf("%w: the cluster was started without disk stalls", ErrCluster)
	}
	delay := hold/5 + time.Duration(n.rng.Int64N(int64(hold*4/5)+1))
	detail := fmt.Sprintf("%s syncs delayed %v", who, delay.Round(time.Millisecond))
	if err := n.stall.StallDisk(i, delay); err != nil {
		return detail + ": not stalled", err
	}
	sleep(ctx, hold)
	if err := n.stall.StallDisk(i, 0); err != nil {
		return detail + ": stall not ended", err
	}
	return detail, nil
}

// isolate is every link to and from member i of size.
func isolate(i, size int) []harness.Link {
	var links []harness.Link
	for j := range size {
		if j != i {
			links = append(links, harness.Link{From: i, To: j}, harness.Link{From: j, To: i})
		}
	}
	return links
}

// split is every link between the members in group and the others, both
// ways.
func split(group []int, size int) []harness.Link {
	var links []harness.Link
	for _, i := range group {
		for j := range size {
			if !slices.Contains(group, j) {
				links = append(links, harness.Link{From: i, To: j}, harness.Link{From: j, To: i})
			}
		}
	}
	return links
}

// oneWay is every link out of member i (out) or into it.
func oneWay(i, size int, out bool) []harness.Link {
	var links []harness.Link
	for j := range size {
		switch {
		case j == i:
		case out:
			links = append(links, harness.Link{From: i, To: j})
		default:
			links = append(links, harness.Link{From: j, To: i})
		}
	}
	return links
}

func describeSplit(minority []int, size, leader int, leaderKnown bool) string {
	var a, b []string
	for i := range size {
		name := memberName(i)
		if leaderKnown && i == leader {
			name += " (leader)"
		}
		if slices.Contains(minority, i) {
			a = append(a, name)
		} else {
			b = append(b, name)
		}
	}
	return strings.Join(a, " ") + " | " + strings.Join(b, " ")
}

// memberName is member i's name in the process cluster.
func memberName(i int) string { return fmt.Sprintf("m%d", i) }

// line is the event as one line of the report.
func (e FaultEvent) line() string {
	s := fmt.Sprintf("  %+7.2fs  %-14s %s; healed at %+.2fs", e.Start, e.Fault, e.Detail, e.End)
	if e.Error != "" {
		return s + "; ERROR: " + e.Error
	}
	return s + fmt.Sprintf(", healthy at %+.2fs", e.Healthy)
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
