package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/proccluster"
)

// regionSize keeps the regions of TestADRRegionLoss small enough to copy
// around, and far larger than what its load leaves undrained.
const regionSize = 8 << 20

// regionCluster is a 3-member adr cluster whose members keep their
// emulated regions in a directory of the test's on tmpfs, where the test
// can remove, swap and replace them between runs, and whose members can be
// given more flags for their next starts.
type regionCluster struct {
	*proccluster.Cluster
	dir string
	// ids are the members' ids in hex, as refusals print them.
	ids []string

	mu    sync.Mutex
	extra map[string][]string // by member name
}

func startRegionCluster(t *testing.T, bin string) *regionCluster {
	t.Helper()
	rc := &regionCluster{dir: regionDir(t), extra: map[string][]string{}}
	spec := serveSpec(bin, "adr")
	spec.MemberFlags = func(_ int, name string) []string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return append([]string{"--adr-region-kind=emulated", "--adr-region-path=" + rc.region(name),
			fmt.Sprintf("--adr-region-size=%d", regionSize)}, rc.extra[name]...)
	}
	rc.Cluster = startCluster(t, spec, 3)
	cli, err := newClient(rc.Endpoints()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc.ids = make([]string, rc.Size())
	for i, m := range rc.Members() {
		for _, pm := range resp.Members {
			if pm.Name == m.Name() {
				rc.ids[i] = fmt.Sprintf("%x", pm.ID)
			}
		}
		if rc.ids[i] == "" {
			t.Fatalf("member list %v lacks %s", resp.Members, m.Name())
		}
	}
	return rc
}

// region is where member name keeps its region.
func (rc *regionCluster) region(name string) string { return filepath.Join(rc.dir, name+".pmem") }

// regionOf is member i's region.
func (rc *regionCluster) regionOf(i int) string { return rc.region(rc.Member(i).Name()) }

// startWith gives member i flags for its next starts.
func (rc *regionCluster) startWith(i int, flags ...string) {
	rc.mu.Lock()
	rc.extra[rc.Member(i).Name()] = flags
	rc.mu.Unlock()
}

func (rc *regionCluster) restart(t *testing.T, members ...int) {
	t.Helper()
	for _, i := range members {
		if err := rc.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
}

// waitRefused waits until member i has exited and checks its last words:
// one line that names its region, says that the region does not hold the
// log's ring, and says how to accept the loss; and naming, what the region
// holds.
func (rc *regionCluster) waitRefused(t *testing.T, ctx context.Context, i int, naming string) {
	t.Helper()
	m := rc.Member(i)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for m.Running() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not refuse to start: it is still running; log:\n%s", m.Name(), m.LogTail(20))
		case <-tick.C:
		}
	}
	last := m.LogTail(1)
	for _, s := range []string{"adrbench: start member \"" + m.Name() + "\"", "region does not hold the log's ring",
		"region " + rc.regionOf(i), "log " + m.DataDir(), "--adr-region-reset", naming} {
		if !strings.Contains(last, s) {
			t.Errorf("%s's last line does not say %q:\n%s", m.Name(), s, last)
		}
	}
	t.Logf("%s refused: %s", m.Name(), last)
}

// readKeys reads every key under prefix with a linearizable range through
// endpoints, retrying until they answer or patience runs out.
func readKeys(ctx context.Context, endpoints []string, prefix string, patience time.Duration) (map[string]string, error) {
	cli, err := newClient(endpoints...)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Get(gctx, prefix, clientv3.WithPrefix())
		gcancel()
		if err == nil {
			out := make(map[string]string, len(resp.Kvs))
			for _, kv := range resp.Kvs {
				out[string(kv.Key)] = string(kv.Value)
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// missing lists the acknowledged puts not found with their value.
func missing(acked, found map[string]string) []string {
	var out []string
	for k, v := range acked {
		if found[k] != v {
			out = append(out, k)
		}
	}
	return out
}

// checkAllThere reads prefix through the members i and fails the test
// unless every acknowledged put is there.
func (rc *regionCluster) checkAllThere(t *testing.T, ctx context.Context, acked map[string]string, prefix string, members ...int) {
	t.Helper()
	var eps []string
	for _, i := range members {
		eps = append(eps, rc.Member(i).Endpoint())
	}
	found, err := readKeys(ctx, eps, prefix, 30*time.Second)
	if err != nil {
		t.Fatalf("read %s through %v: %v", prefix, eps, err)
	}
	if lost := missing(acked, found); len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged keys under %s missing through %v, e.g. %v", len(lost), len(acked), prefix, eps, lost[:min(5, len(lost))])
	}
	t.Logf("all %d acknowledged keys under %s read through %v", len(acked), prefix, eps)
}

func (rc *regionCluster) waitHealthy(t *testing.T, ctx context.Context) {
	t.Helper()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := rc.WaitHealthy(hctx); err != nil {
		t.Fatalf("%v; %s", err, statuses(ctx, rc.Cluster))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestADRRegionLoss takes acknowledged writes on a 3-member adr cluster,
// SIGKILLs every member under load, does to their regions what a reboot,
// a wrong path or an old copy does, and restarts them: every member whose
// region is not its log's ring refuses with one line naming the region,
// and every member that starts serves every acknowledged key. Never a
// silent start on a shorter log. --adr-region-reset then lets a refusing
// member start: it catches up from the leader when the others have the
// writes, and when no one does every member says what it lost.
func TestADRRegionLoss(t *testing.T) {
	bin := buildAdrbench(t)
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, rc *regionCluster)
	}{
		{"regions removed, as a reboot removes tmpfs files", func(t *testing.T, ctx context.Context, rc *regionCluster) {
			acked := killUnderLoad(t, ctx, rc.Cluster, "r/")
			for i := range rc.Size() {
				if err := os.Remove(rc.regionOf(i)); err != nil {
					t.Fatal(err)
				}
			}
			rc.restart(t, 0, 1, 2)
			for i := range rc.Size() {
				rc.waitRefused(t, ctx, i, "every byte is zero")
			}
			// Accepting the loss on every member: each starts on what
			// reached its disk and says after which index it lost
			// entries. Whether the cluster comes together again is not
			// promised: raft cannot survive losing entries from a
			// majority, and a member may hold a committed entry that the
			// new leader lacks. What it lost is measured and logged.
			for i := range rc.Size() {
				rc.startWith(i, "--adr-region-reset")
			}
			rc.restart(t, 0, 1, 2)
			for i, m := range rc.Members() {
				if err := rc.WaitServing(ctx, i); err != nil {
					t.Fatalf("%s did not start with --adr-region-reset: %v", m.Name(), err)
				}
				var said string
				for _, line := range strings.Split(m.Log(), "\n") {
					if strings.Contains(line, "--adr-region-reset: region "+rc.regionOf(i)) && strings.Contains(line, "are lost from this member") {
						said = line
					}
				}
				if said == "" {
					t.Errorf("%s started with --adr-region-reset without saying what it lost:\n%s", m.Name(), m.LogTail(10))
				}
				t.Logf("%s: %s", m.Name(), said)
			}
			hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
			herr := rc.WaitHealthy(hctx)
			hcancel()
			if herr != nil {
				t.Logf("after accepting the loss on every member the cluster did not come together: %v; %s", herr, statuses(ctx, rc.Cluster))
				return
			}
			found, err := readKeys(ctx, rc.Endpoints(), "r/", 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("after accepting the loss on every member: %d of %d acknowledged keys lost", len(missing(acked, found)), len(acked))
		}},
		{"one region removed, the member reset catches up", func(t *testing.T, ctx context.Context, rc *regionCluster) {
			acked := killUnderLoad(t, ctx, rc.Cluster, "o/")
			if err := os.Remove(rc.regionOf(0)); err != nil {
				t.Fatal(err)
			}
			rc.restart(t, 0, 1, 2)
			rc.waitRefused(t, ctx, 0, "every byte is zero")
			rc.waitHealthy(t, ctx)
			rc.checkAllThere(t, ctx, acked, "o/", 1, 2)
			rc.startWith(0, "--adr-region-reset")
			rc.restart(t, 0)
			rc.waitHealthy(t, ctx)
			rc.checkAllThere(t, ctx, acked, "o/", 0)
		}},
		{"another member's region swapped in", func(t *testing.T, ctx context.Context, rc *regionCluster) {
			acked := killUnderLoad(t, ctx, rc.Cluster, "w/")
			swap := func() {
				tmp := rc.regionOf(0) + ".swap"
				for _, mv := range [][2]string{{rc.regionOf(0), tmp}, {rc.regionOf(1), rc.regionOf(0)}, {tmp, rc.regionOf(1)}} {
					if err := os.Rename(mv[0], mv[1]); err != nil {
						t.Fatal(err)
					}
				}
			}
			swap()
			rc.restart(t, 0, 1, 2)
			rc.waitRefused(t, ctx, 0, "of member "+rc.ids[1])
			rc.waitRefused(t, ctx, 1, "of member "+rc.ids[0])
			// Each region goes back to its member: nothing was lost.
			swap()
			rc.restart(t, 0, 1)
			rc.waitHealthy(t, ctx)
			rc.checkAllThere(t, ctx, acked, "w/", 0, 1, 2)
			rc.checkAllThere(t, ctx, acked, "w/", 0)
		}},
		{"a region from an older incarnation of the member", func(t *testing.T, ctx context.Context, rc *regionCluster) {
			first := killUnderLoad(t, ctx, rc.Cluster, "s1/")
			stale := rc.regionOf(0) + ".stale"
			copyFile(t, rc.regionOf(0), stale)
			rc.restart(t, 0, 1, 2)
			rc.waitHealthy(t, ctx)
			second := killUnderLoad(t, ctx, rc.Cluster, "s2/")
			current := rc.regionOf(0) + ".current"
			copyFile(t, rc.regionOf(0), current)
			copyFile(t, stale, rc.regionOf(0))
			rc.restart(t, 0, 1, 2)
			rc.waitRefused(t, ctx, 0, "an older ring of this member")
			rc.waitHealthy(t, ctx)
			rc.checkAllThere(t, ctx, first, "s1/", 1, 2)
			rc.checkAllThere(t, ctx, second, "s2/", 1, 2)
			copyFile(t, current, rc.regionOf(0))
			rc.restart(t, 0)
			rc.waitHealthy(t, ctx)
			rc.checkAllThere(t, ctx, first, "s1/", 0)
			rc.checkAllThere(t, ctx, second, "s2/", 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			rc := startRegionCluster(t, bin)
			tt.run(t, ctx, rc)
		})
	}
}
