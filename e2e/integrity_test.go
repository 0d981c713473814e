package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/internal/proccluster"
)

// dbPath is where etcd and `adrbench serve` keep a member's database.
func dbPath(m *proccluster.Member) string {
	return filepath.Join(m.DataDir(), "member", "snap", "db")
}

// putKeys writes n keys prefix/0000... through the cluster and returns the
// last revision.
func putKeys(t *testing.T, ctx context.Context, c *proccluster.Cluster, prefix string, n int) int64 {
	t.Helper()
	cli, err := newClient(c.Endpoints()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var rev int64
	for i := range n {
		resp, err := cli.Put(ctx, fmt.Sprintf("%s/%04d", prefix, i), fmt.Sprintf("value-%d", i))
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		rev = resp.Header.Revision
	}
	return rev
}

// TestLostDatabaseRefused removes the database of a member whose raft log
// was compacted behind a snapshot: the member must refuse to start with
// one line naming the database and the indexes, and the rest of the
// cluster goes on.
func TestLostDatabaseRefused(t *testing.T) {
	spec := serveSpec(buildAdrbench(t), "batched")
	spec.Flags = append(spec.Flags, "--snapshot-count=100", "--snapshot-catchup-entries=20")
	c := startCluster(t, spec, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	putKeys(t, ctx, c, "lost", 400)
	const victim = 2
	if err := c.Stop(ctx, victim); err != nil {
		t.Fatal(err)
	}
	db := dbPath(c.Member(victim))
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	err := c.WaitServing(ctx, victim)
	if !errors.Is(err, proccluster.ErrMemberExited) {
		t.Fatalf("a member without its database after compaction: %v, want it to exit", err)
	}
	why := c.Member(victim).LogTail(1)
	for _, want := range []string{"state machine database is behind the raft log", db, "does not exist", "snapshot at index"} {
		if !strings.Contains(why, want) {
			t.Fatalf("the member exited with %q, which does not say %q", why, want)
		}
	}
	// The others keep a quorum, elect a leader if the refused member led,
	// and take writes.
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	putKeys(t, ctx, c, "after", 10)
}

// corruptKeys changes the value of every key under prefix in a stopped
// member's database, as silent corruption of its disk would.
func corruptKeys(t *testing.T, path, prefix string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		if b == nil {
			return errors.New("no key bucket")
		}
		type rec struct{ k, v []byte }
		var changed []rec
		err := b.ForEach(func(k, v []byte) error {
			var kv mvccpb.KeyValue
			if err := proto.Unmarshal(v, &kv); err != nil {
				return err
			}
			if !strings.HasPrefix(string(kv.Key), prefix) || len(kv.Value) == 0 {
				return nil
			}
			kv.Value[0]++
			nv, err := proto.Marshal(&kv)
			if err != nil {
				return err
			}
			changed = append(changed, rec{append([]byte(nil), k...), nv})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range changed {
			if err := b.Put(r.k, r.v); err != nil {
				return err
			}
		}
		n = len(changed)
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil || n == 0 {
		t.Fatalf("corrupt %s: %v (%d values changed)", path, err, n)
	}
}

// hashKVs runs `etcdctl endpoint hashkv --cluster` and returns the hash
// each endpoint reported.
func hashKVs(t *testing.T, ctx context.Context, etcdctl string, c *proccluster.Cluster) map[string]string {
	t.Helper()
	cmd := exec.CommandContext(ctx, etcdctl, "--endpoints="+c.Member(0).Endpoint(), "endpoint", "hashkv", "--cluster")
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl endpoint hashkv --cluster: %v\n%s", err, out)
	}
	hashes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ep, hash, ok := strings.Cut(line, ", ")
		if !ok {
			t.Fatalf("etcdctl endpoint hashkv printed %q", line)
		}
		hashes[strings.TrimPrefix(ep, "http://")] = hash
	}
	if len(hashes) != c.Size() {
		t.Fatalf("etcdctl endpoint hashkv --cluster printed %d endpoints, want %d:\n%s", len(hashes), c.Size(), out)
	}
	return hashes
}

// waitApplied waits until every member reports the same revision, so that
// their hashes compare.
func waitApplied(t *testing.T, ctx context.Context, c *proccluster.Cluster, rev int64) {
	t.Helper()
	for _, m := range c.Members() {
		cli, err := newClient(m.Endpoint())
		if err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := cli.Get(ctx, "waitapplied", clientv3.WithSerializable())
			if err == nil && resp.Header.Revision >= rev {
				break
			}
			select {
			case <-ctx.Done():
				cli.Close()
				t.Fatalf("%s did not reach revision %d: %v", m.Name(), rev, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		cli.Close()
	}
}

// TestHashKVRevealsAlteredMember runs etcd and `adrbench serve` the same
// way: `etcdctl endpoint hashkv --cluster` gives every member the same
// hash; after one member's database is altered while it is down, its hash
// differs; and restarted with --experimental-initial-corrupt-check it
// refuses to start, as etcd does. The history is the same for both, and
// so must be the hashes: ours are etcd's.
func TestHashKVRevealsAlteredMember(t *testing.T) {
	etcdctl := needEtcdctl(t)
	seen := map[string][2]string{} // flavor -> healthy and altered hash
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			spec := f.spec(t)
			// etcd 3.4 learns its peers at start from its last snapshot
			// only, and without one its initial check asks nobody: snapshot
			// before the check runs.
			spec.Flags = append(spec.Flags, "--snapshot-count=20")
			var initialCheck atomic.Bool
			spec.MemberFlags = func(int, string) []string {
				if initialCheck.Load() {
					return []string{"--experimental-initial-corrupt-check"}
				}
				return nil
			}
			c := startCluster(t, spec, 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			putKeys(t, ctx, c, "h", 50)
			cli, err := newClient(c.Endpoints()...)
			if err != nil {
				t.Fatal(err)
			}
			del, err := cli.Delete(ctx, "h/0001", clientv3.WithRange("h/0005"))
			cli.Close()
			if err != nil || del.Deleted != 4 {
				t.Fatalf("delete: %v %v", del, err)
			}
			rev := del.Header.Revision
			waitApplied(t, ctx, c, rev)
			healthy := hashKVs(t, ctx, etcdctl, c)
			want := healthy[c.Member(0).Endpoint()]
			for ep, h := range healthy {
				if h != want {
					t.Fatalf("healthy cluster: %s has hash %s, %s has %s", ep, h, c.Member(0).Endpoint(), want)
				}
			}

			const victim = 2
			m := c.Member(victim)
			if err := c.Stop(ctx, victim); err != nil {
				t.Fatal(err)
			}
			corruptKeys(t, dbPath(m), "h/")
			if err := c.Restart(victim); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			waitApplied(t, ctx, c, rev)
			altered := hashKVs(t, ctx, etcdctl, c)
			for i, m := range c.Members() {
				h := altered[m.Endpoint()]
				if differs := h != want; differs != (i == victim) {
					t.Fatalf("after altering %s: %s has hash %s, the healthy hash is %s", c.Member(victim).Name(), m.Name(), h, want)
				}
			}
			t.Logf("%s: healthy hash %s; the altered member's %s", f.name, want, altered[m.Endpoint()])
			seen[f.name] = [2]string{want, altered[m.Endpoint()]}
			if ref, ok := seen["etcd"]; ok && f.name != "etcd" && ref != seen[f.name] {
				t.Errorf("healthy and altered hashes %v, etcd's for the same history %v", seen[f.name], ref)
			}

			if err := c.Stop(ctx, victim); err != nil {
				t.Fatal(err)
			}
			initialCheck.Store(true)
			if err := c.Restart(victim); err != nil {
				t.Fatal(err)
			}
			err = c.WaitServing(ctx, victim)
			if !errors.Is(err, proccluster.ErrMemberExited) {
				t.Fatalf("restart with the initial corruption check: %v, want the member to refuse", err)
			}
			if log := m.LogTail(20); !strings.Contains(log, "found data inconsistency with peers") {
				t.Fatalf("the member exited without saying it found an inconsistency:\n%s", log)
			}
		})
	}
}

// TestSnapshotRestoreChecksHash saves a snapshot of each flavor with
// etcdctl and restores it with etcdctl, which checks the sha256 the
// member appended; a copy with one byte changed is refused.
func TestSnapshotRestoreChecksHash(t *testing.T) {
	etcdctl := needEtcdctl(t)
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			c := startCluster(t, f.spec(t), 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			putKeys(t, ctx, c, "s", 30)
			dir := t.TempDir()
			snap := filepath.Join(dir, "snap.db")
			etcdctlRun(t, ctx, etcdctl, "--endpoints="+c.Member(0).Endpoint(), "snapshot", "save", snap)
			etcdctlRun(t, ctx, etcdctl, "snapshot", "restore", snap, "--data-dir="+filepath.Join(dir, "restored"))

			b, err := os.ReadFile(snap)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			bad := filepath.Join(dir, "bad.db")
			if err := os.WriteFile(bad, b, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, etcdctl, "snapshot", "restore", bad, "--data-dir="+filepath.Join(dir, "bad"))
			cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "expected sha256") {
				t.Fatalf("etcdctl snapshot restore of a changed copy: %v\n%s", err, out)
			}
		})
	}
}

func etcdctlRun(t *testing.T, ctx context.Context, etcdctl string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, etcdctl, args...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
