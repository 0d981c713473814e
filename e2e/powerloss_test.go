package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/lossyfs"
	"github.com/adrbench/adrbench/internal/proccluster"
)

// powerLossCyclesEnv sets how many power cuts each backend takes in
// TestPowerLoss: the default keeps the test within a CI budget; a soak
// sets more, e.g. ADRBENCH_POWERLOSS_CYCLES=25.
const powerLossCyclesEnv = "ADRBENCH_POWERLOSS_CYCLES"

// powerLossStrictEnv, set to 0, runs TestPowerLoss under lossyfs's
// LazyFS-like namespace model (names durable at once) instead of the
// strict one (names durable only once their directory is fsynced).
const powerLossStrictEnv = "ADRBENCH_POWERLOSS_STRICT"

const defaultPowerLossCycles = 2

// One power-loss cycle: its load (shaped by loadWriters and loadClients)
// and the restart after its cut.
const (
	// The cut comes after plAcked acknowledged puts or loadFor, whichever
	// is first, but never before the first acknowledgement.
	plAcked = 1500
	// plRecover bounds the restart after a cut.
	plRecover = 30 * time.Second
	// plSnapshotCount makes the members snapshot and compact their logs
	// (keeping a quarter of it behind) every few hundred writes, so that
	// cuts also land during and after snapshots and compactions.
	plSnapshotCount = 400
)

// powerLossCase is a log backend under a power cut. Durable backends must
// keep every acknowledged write; the others have their loss measured.
type powerLossCase struct {
	name    string
	backend string
	durable bool
}

var powerLossCases = []powerLossCase{
	{name: "backend=fsync", backend: "fsync", durable: true},
	{name: "backend=batched", backend: "batched", durable: true},
	{name: "backend=adr", backend: "adr", durable: true},
	{name: "backend=async", backend: "async"},
}

// TestPowerLoss runs 3-member clusters of `adrbench serve` with their data
// directories on a lossyfs mount, which keeps everything not fsynced in
// memory. Each cycle writes under load, SIGKILLs every member, cuts the
// power (the mount drops what was not synced, is unmounted and mounted
// again, so the kernel's page cache is gone too), restarts the members and
// reads every acknowledged key back. The adr backend's region lives on
// tmpfs outside the mount, as persistent memory survives a power loss.
//
// fsync, batched and adr must come back and keep every acknowledged write
// with its revision. async acknowledges before it syncs, so it may lose
// up to its sync interval of writes and come back with members whose logs,
// terms and votes disagree: its loss is measured and logged as "async
// power loss: lost N of M acknowledged writes ...", and so are a member
// refusing to start and a cluster that stays unhealthy; then the loss is
// measured on the members still answering and the next cycle starts a new
// cluster.
//
// The file system uses lossyfs's strict namespace model: a new, renamed or
// removed name is durable only once its directory is fsynced, as POSIX
// promises, so a member that forgets a directory fsync (of its data dir,
// its log's, a new segment's or the database's) loses the name and what
// it holds. ADRBENCH_POWERLOSS_STRICT=0 selects the LazyFS-like model
// instead, where names are durable at once and only file contents and
// sizes are lost.
func TestPowerLoss(t *testing.T) {
	if err := lossyfs.Available(); err != nil {
		t.Skipf("SKIPPING the power-loss test of the real binary: %v", err)
	}
	cycles := defaultPowerLossCycles
	if s := os.Getenv(powerLossCyclesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of cycles", powerLossCyclesEnv, s)
		}
		cycles = n
	}
	opts := lossyfs.Options{Namespace: lossyfs.NamespaceDirSync}
	switch s := os.Getenv(powerLossStrictEnv); s {
	case "", "1":
	case "0":
		opts.Namespace = lossyfs.NamespaceImmediate
	default:
		t.Fatalf("%s=%q: want 1 (the default: names durable once their directory is synced) or 0 (names durable at once)", powerLossStrictEnv, s)
	}
	bin := buildAdrbench(t)
	for _, pc := range powerLossCases {
		t.Run(pc.name, func(t *testing.T) {
			runPowerLoss(t, bin, pc, opts, cycles)
		})
	}
}

func runPowerLoss(t *testing.T, bin string, pc powerLossCase, opts lossyfs.Options, cycles int) {
	mnt, backing := t.TempDir(), t.TempDir()
	lfs, err := lossyfs.New(backing, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := lfs.Mount(mnt); err != nil {
		t.Fatalf("lossyfs looked available but the mount failed: %v", err)
	}
	t.Cleanup(func() {
		if err := lfs.Close(); err != nil {
			t.Errorf("lossyfs: %v", err)
		}
	})
	var regions string
	if pc.backend == "adr" {
		regions = regionDir(t)
	}
	// newCluster starts a cluster in a fresh directory of the mount; a
	// cluster that refuses to come back after a cut (async may) is
	// replaced by a new one for the next cycle.
	newCluster := func(gen int) *proccluster.Cluster {
		name := fmt.Sprintf("cluster%d", gen)
		spec := proccluster.Config{
			Command: []string{bin, "serve"},
			Flags: []string{"--log-backend=" + pc.backend, "--snapshot-count=" + strconv.Itoa(plSnapshotCount),
				"--snapshot-catchup-entries=" + strconv.Itoa(plSnapshotCount/4)},
			Dir: filepath.Join(mnt, name),
		}
		if !pc.durable {
			// serve refuses a backend that is not durable without it.
			spec.Flags = append(spec.Flags, "--unsafe-allow-nondurable")
		}
		if err := os.Mkdir(spec.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		syncHarnessDir(t, mnt, spec.Dir)
		regionsOf := filepath.Join(regions, name)
		if regions != "" {
			spec.MemberFlags = func(_ int, name string) []string {
				return []string{"--adr-region-kind=emulated", "--adr-region-path=" + filepath.Join(regionsOf, name+".pmem")}
			}
			if err := os.Mkdir(regionsOf, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		c := startCluster(t, spec, 3)
		for _, m := range c.Members() {
			if rel, err := filepath.Rel(mnt, m.DataDir()); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("%s: its data dir %s is not on the lossyfs mount %s: a power cut would not touch it", m.Name(), m.DataDir(), mnt)
			}
		}
		if regions != "" {
			for _, m := range c.Members() {
				if _, err := os.Stat(filepath.Join(regionsOf, m.Name()+".pmem")); err != nil {
					t.Fatalf("%s: its adr region is not outside the mount where it was put: %v", m.Name(), err)
				}
			}
		}
		return c
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var (
		gen    int
		c      = newCluster(gen)
		expect = map[string]ack{} // acknowledged puts the current cluster must still have
		// Totals over all cycles, for the summary line.
		acked, checked, lost, changedAll, refused, stuck int
		worstWindow                                      time.Duration
	)
	for cycle := range cycles {
		if c == nil {
			gen++
			c, expect = newCluster(gen), map[string]ack{}
		}
		cycleAcked, cutAt := loadThenKill(t, ctx, c, cycle)
		for _, a := range cycleAcked {
			expect[a.key] = a
		}
		acked += len(cycleAcked)
		logs := memberLogs(c)
		cs, err := lfs.PowerCut()
		if err != nil {
			t.Fatal(err)
		}
		if err := lfs.Unmount(); err != nil {
			t.Fatal(err)
		}
		if err := lfs.Mount(mnt); err != nil {
			t.Fatal(err)
		}
		for i := range c.Size() {
			if err := c.Restart(i); err != nil {
				t.Fatal(err)
			}
		}
		hctx, hcancel := context.WithTimeout(ctx, plRecover)
		err = c.WaitHealthy(hctx)
		hcancel()
		if err != nil && pc.durable {
			t.Fatalf("cycle %d: after the power cut: %v\n%s\n%s\nmember logs before the cut:\n%s", cycle, err, refusals(c), statuses(ctx, c), logs)
		}
		switch {
		case errors.Is(err, proccluster.ErrMemberExited):
			// A member refused to start: measure the loss on the others,
			// if they make a quorum, then replace the cluster.
			refused++
			t.Logf("%s cycle %d: after the cut %s", pc.backend, cycle, refusals(c))
		case err != nil:
			// Neither back nor refusing. async breaks raft's rule that
			// what a member acknowledged is durable, so its members can
			// come back with logs, terms and votes that disagree; say so
			// loudly and measure what the running members still answer.
			stuck++
			t.Logf("%s power loss: cycle %d: the cluster stayed unhealthy for %v after the cut and no member exited: %v; %s",
				pc.backend, cycle, plRecover, err, statuses(ctx, c))
		}
		readFor := plRecover
		if err != nil && !errors.Is(err, proccluster.ErrMemberExited) {
			readFor = 3 * time.Second // it had plRecover already
		}
		found, rev, rerr := readRunning(ctx, c, readFor)
		if rerr != nil {
			t.Logf("%s cycle %d: the members still running do not answer a linearizable read, the loss is not measured: %v", pc.backend, cycle, rerr)
			_ = c.KillAll(ctx)
			c = nil
			continue
		}
		var lostNow []ack
		var changed []string
		maxRev := int64(0)
		for k, a := range expect {
			maxRev = max(maxRev, a.rev)
			got, ok := found[k]
			switch {
			case !ok:
				lostNow = append(lostNow, a)
				delete(expect, k)
			case got.value != a.value || got.rev != a.rev:
				changed = append(changed, fmt.Sprintf("%s=%q@%d, found %q@%d", k, a.value, a.rev, got.value, got.rev))
			}
		}
		// Losses are counted once: a lost key leaves expect. The writes
		// checked are those acknowledged in the cycles that were measured.
		checked += len(cycleAcked)
		lost += len(lostNow)
		changedAll += len(changed)
		window := lossWindow(lostNow, cutAt)
		worstWindow = max(worstWindow, window)
		t.Logf("%s cycle %d: %d puts acknowledged; the cut dropped %d unsynced bytes in %d files; after the restart revision %d (highest acknowledged %d), %d acknowledged writes lost%s, %d found with another value or revision",
			pc.backend, cycle, len(cycleAcked), cs.BytesDropped, cs.FilesDropped, rev, maxRev, len(lostNow), windowText(lostNow, window), len(changed))
		if pc.durable {
			if len(lostNow) > 0 {
				t.Errorf("cycle %d: %d acknowledged writes lost, e.g. %s\nmember logs before the cut:\n%s", cycle, len(lostNow), describe(lostNow, cutAt), logs)
			}
			if len(changed) > 0 {
				t.Errorf("cycle %d: %d acknowledged writes changed, e.g. %v", cycle, len(changed), changed[:min(5, len(changed))])
			}
			if rev < maxRev {
				t.Errorf("cycle %d: revision %d after the restart is below the highest acknowledged, %d", cycle, rev, maxRev)
			}
		}
		if err != nil {
			_ = c.KillAll(ctx)
			c = nil
		}
	}
	frac := 0.0
	if checked > 0 {
		frac = float64(lost) / float64(checked)
	}
	t.Logf("%s power loss: lost %d of %d acknowledged writes (%.2f%%) in %d cycles%s; %d found with another value or revision; %d of %d acknowledged writes checked; after %d cuts a member refused to start, after %d the cluster stayed unhealthy",
		pc.backend, lost, checked, 100*frac, cycles, windowText(make([]ack, lost), worstWindow), changedAll, checked, acked, refused, stuck)
}

// statuses describes what each running member reports about itself:
// the leader it sees, its raft term, its last log index and how far it
// applied.
func statuses(ctx context.Context, c *proccluster.Cluster) string {
	var out []string
	for _, m := range c.Members() {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cli, err := newClient(m.Endpoint())
		if err == nil {
			var st *clientv3.StatusResponse
			if st, err = cli.Status(sctx, m.Endpoint()); err == nil {
				out = append(out, fmt.Sprintf("%s: leader %x, term %d, raft index %d, applied %d, errors %v",
					m.Name(), st.Leader, st.RaftTerm, st.RaftIndex, st.RaftAppliedIndex, st.Errors))
			}
			cli.Close()
		}
		cancel()
		if err != nil {
			out = append(out, fmt.Sprintf("%s: status: %v", m.Name(), err))
		}
	}
	return strings.Join(out, "; ")
}

// refusals describes the members that exited: the panic or the last line
// each printed.
func refusals(c *proccluster.Cluster) string {
	var out []string
	for _, m := range c.Members() {
		if m.Running() {
			continue
		}
		why := ""
		for _, line := range strings.Split(m.Log(), "\n") {
			if strings.HasPrefix(line, "panic: ") || strings.Contains(line, "Error:") {
				why = line
				break
			}
		}
		if why == "" {
			why = m.LogTail(1)
		}
		out = append(out, fmt.Sprintf("%s refused to start: %s", m.Name(), why))
	}
	return strings.Join(out, "; ")
}

// syncHarnessDir fsyncs the directory the test made on the mount for a
// cluster, and its parents up to the mount's root, before the members
// start: under the strict namespace model a cut then loses only what the
// servers did not make durable, their own data dirs' names included.
func syncHarnessDir(t *testing.T, mnt, clusterDir string) {
	t.Helper()
	for dir := filepath.Dir(clusterDir); ; dir = filepath.Dir(dir) {
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			t.Fatalf("fsync %s: %v", dir, err)
		}
		if dir == mnt || dir == filepath.Dir(dir) {
			break
		}
	}
}

// regionDir returns a directory on tmpfs outside any lossyfs mount for
// the members' adr regions: tmpfs survives the simulated power loss, as
// persistent memory survives a real one.
func regionDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "adrbench-powerloss-")
	if err != nil {
		t.Logf("no /dev/shm (%v): the adr regions go to a temporary directory on disk", err)
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// loadThenKill puts unique keys into c until plAcked puts are acknowledged,
// then SIGKILLs every member at once while puts are in flight. It returns
// the acknowledged puts and the instant every member was dead: the power
// cut.
func loadThenKill(t *testing.T, ctx context.Context, c *proccluster.Cluster, cycle int) ([]ack, time.Time) {
	t.Helper()
	var cutAt time.Time
	acked, failures := loadThenCut(t, ctx, c, plAcked,
		func(w, seq int) (string, string) {
			return fmt.Sprintf("p/%03d/%02d/%06d", cycle, w, seq), fmt.Sprintf("v-%d-%d-%d", cycle, w, seq)
		},
		func() {
			// Power fails everywhere at once: every member gets its SIGKILL
			// together, not one after the other with the rest still taking
			// writes.
			var kills sync.WaitGroup
			for i := range c.Size() {
				kills.Go(func() { _ = c.Kill(ctx, i) })
			}
			kills.Wait()
			cutAt = time.Now()
		})
	if len(failures) > 0 {
		t.Logf("cycle %d: put errors during the load: %v", cycle, failures)
	}
	return acked, cutAt
}

// found is a key read back after a restart.
type found struct {
	value string
	rev   int64
}

// readRunning reads every key written by loadThenKill with a
// linearizable range through the members still running, retrying until
// they answer or patience runs out, and returns the keys with the
// cluster's revision.
func readRunning(ctx context.Context, c *proccluster.Cluster, patience time.Duration) (map[string]found, int64, error) {
	var eps []string
	for _, m := range c.Members() {
		if m.Running() {
			eps = append(eps, m.Endpoint())
		}
	}
	if len(eps) == 0 {
		return nil, 0, errors.New("no member is running")
	}
	cli, err := newClient(eps...)
	if err != nil {
		return nil, 0, err
	}
	defer cli.Close()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Get(gctx, "p/", clientv3.WithPrefix())
		gcancel()
		if err == nil {
			out := make(map[string]found, len(resp.Kvs))
			for _, kv := range resp.Kvs {
				out[string(kv.Key)] = found{value: string(kv.Value), rev: kv.ModRevision}
			}
			return out, resp.Header.Revision, nil
		}
		if time.Now().After(deadline) {
			return nil, 0, err
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// lossWindow is how long before the cut the oldest lost write was
// acknowledged.
func lossWindow(lost []ack, cutAt time.Time) time.Duration {
	var w time.Duration
	for _, a := range lost {
		w = max(w, cutAt.Sub(a.at))
	}
	return w
}

// windowText says how far back the losses reach, or nothing when there
// were none.
func windowText(lost []ack, window time.Duration) string {
	if len(lost) == 0 {
		return ""
	}
	return fmt.Sprintf(", acknowledged up to %v before the cut", window.Round(time.Millisecond))
}

// describe names a few lost writes, oldest first, with their revisions
// and how long before the cut they were acknowledged.
func describe(lost []ack, cutAt time.Time) string {
	sort.Slice(lost, func(i, j int) bool { return lost[i].rev < lost[j].rev })
	s := ""
	for i, a := range lost[:min(5, len(lost))] {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s@%d (acknowledged %v before the cut)", a.key, a.rev, cutAt.Sub(a.at).Round(time.Millisecond))
	}
	return s
}

// memberLogs returns the last lines of every member's log: the logs are
// on the mount and a power cut drops what the kernel had not synced.
func memberLogs(c *proccluster.Cluster) string {
	s := ""
	for _, m := range c.Members() {
		s += fmt.Sprintf("--- %s (last 15 lines):\n%s\n", m.Name(), m.LogTail(15))
	}
	return s
}
