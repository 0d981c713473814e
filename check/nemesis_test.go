package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adrbench/adrbench/harness"
)

// fakeCluster records what the nemesis does to it and tracks each
// member's state, so a test can see that every fault is healed.
type fakeCluster struct {
	mu      sync.Mutex
	size    int
	leader  int
	calls   []string
	down    map[int]bool
	paused  map[int]bool
	stalled map[int]bool
	cut     []harness.Link
	cuts    int
}

func newFakeCluster(size, leader int) *fakeCluster {
	return &fakeCluster{size: size, leader: leader, down: map[int]bool{}, paused: map[int]bool{}, stalled: map[int]bool{}}
}

func (f *fakeCluster) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeCluster) Endpoints() []string                   { return make([]string, f.size) }
func (f *fakeCluster) Close() error                          { return nil }
func (f *fakeCluster) Stop(ctx context.Context, i int) error { return nil }
func (f *fakeCluster) Leader(ctx context.Context) (int, error) {
	return f.leader, nil
}
func (f *fakeCluster) Kill(ctx context.Context, i int) error {
	f.record("kill %d", i)
	f.down[i] = true
	return nil
}
func (f *fakeCluster) Restart(ctx context.Context, i int) error {
	f.record("restart %d", i)
	delete(f.down, i)
	return nil
}
func (f *fakeCluster) Pause(i int) error {
	f.record("pause %d", i)
	f.paused[i] = true
	return nil
}
func (f *fakeCluster) Resume(i int) error {
	f.record("resume %d", i)
	delete(f.paused, i)
	return nil
}
func (f *fakeCluster) Cut(links []harness.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = slices.Clone(links)
	if len(links) > 0 {
		f.cuts++
	}
	return nil
}
func (f *fakeCluster) StallDisk(i int, d time.Duration) error {
	f.record("stall %d %v", i, d > 0)
	if d > 0 {
		f.stalled[i] = true
	} else {
		delete(f.stalled, i)
	}
	return nil
}
func (f *fakeCluster) WaitHealthy(ctx context.Context) error { return nil }

// TestNemesisHealsEveryFault injects each fault into a fake cluster and
// checks it did something and left the cluster whole.
func TestNemesisHealsEveryFault(t *testing.T) {
	tests := []struct {
		fault string
		// did checks what the fault did to a cluster whose leader is 2
		did func(f *fakeCluster) error
	}{
		{FaultKill, calledWith("kill ", "restart ")},
		{FaultKillLeader, calledWith("kill 2", "restart 2")},
		{FaultPause, calledWith("pause ", "resume ")},
		{FaultPauseLeader, calledWith("pause 2", "resume 2")},
		{FaultIsolateLeader, cutAtLeastOnce},
		{FaultIsolate, cutAtLeastOnce},
		{FaultSplit, cutAtLeastOnce},
		{FaultOneWay, cutAtLeastOnce},
		{FaultFlap, cutAtLeastOnce},
		{FaultPartition, cutAtLeastOnce},
		{FaultStall, calledWith("stall ", "stall ")},
		{FaultStallLeader, calledWith("stall 2 true", "stall 2 false")},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			f := newFakeCluster(5, 2)
			cfg := DefaultConfig()
			cfg.Faults, cfg.FaultHold, cfg.FaultGap = []string{tc.fault}, 20*time.Millisecond, time.Millisecond
			n := &nemesis{cl: f, stall: f, cfg: cfg, rng: rand.New(rand.NewPCG(1, 2)), start: time.Now()}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); n.run(ctx) }()
			deadline := time.Now().Add(10 * time.Second)
			for len(n.Events()) < 3 {
				if time.Now().After(deadline) {
					t.Fatal("no three faults injected")
				}
				time.Sleep(time.Millisecond) // polling, not timing
			}
			cancel()
			<-done
			for _, e := range n.Events() {
				if e.Error != "" || e.Healthy == 0 || e.End < e.Start || e.Detail == "" {
					t.Errorf("event %+v", e)
				}
				if tc.fault != FaultPartition && e.Fault != tc.fault {
					t.Errorf("fault %s injected, want %s", e.Fault, tc.fault)
				}
			}
			if err := tc.did(f); err != nil {
				t.Fatal(err)
			}
			if len(f.down) > 0 || len(f.paused) > 0 || len(f.stalled) > 0 || len(f.cut) > 0 {
				t.Fatalf("left behind: down %v, paused %v, stalled %v, cut %v", f.down, f.paused, f.stalled, f.cut)
			}
		})
	}
}

// calledWith checks that the calls include ones starting with each
// prefix, in that order.
func calledWith(prefixes ...string) func(f *fakeCluster) error {
	return func(f *fakeCluster) error {
		i := 0
		for _, c := range f.calls {
			if i < len(prefixes) && strings.HasPrefix(c, prefixes[i]) {
				i++
			}
		}
		if i < len(prefixes) {
			return fmt.Errorf("calls %q, want ones starting %q in order", f.calls, prefixes)
		}
		return nil
	}
}

func cutAtLeastOnce(f *fakeCluster) error {
	if f.cuts == 0 {
		return fmt.Errorf("no link was cut")
	}
	return nil
}

func TestLinks(t *testing.T) {
	tests := []struct {
		name  string
		links []harness.Link
		want  []harness.Link
	}{
		{"isolate", isolate(1, 3), links(l(1, 0), l(0, 1), l(1, 2), l(2, 1))},
		{"split", split([]int{0, 3}, 4), links(l(0, 1), l(1, 0), l(0, 2), l(2, 0), l(3, 1), l(1, 3), l(3, 2), l(2, 3))},
		{"one way out", oneWay(2, 3, true), links(l(2, 0), l(2, 1))},
		{"one way in", oneWay(2, 3, false), links(l(0, 2), l(1, 2))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.links, tc.want) {
				t.Fatalf("links %v, want %v", tc.links, tc.want)
			}
		})
	}
}

func l(from, to int) harness.Link { return harness.Link{From: from, To: to} }

func links(ls ...harness.Link) []harness.Link { return ls }
