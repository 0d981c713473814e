package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// failoverBound is generous on purpose: etcd normally elects a new leader
// within about 2 s with its default 1 s election timeout. The measured time
// is logged; the bound only catches a cluster that never recovers.
const failoverBound = 10 * time.Second

// TestFailover kills the leader of a 3-member cluster with SIGKILL and
// measures how long until a put through the survivors succeeds.
func TestFailover(t *testing.T) {
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			c := startCluster(t, f.spec(t), 3)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			leader, err := c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var survivors []string
			for i, m := range c.Members() {
				if i != leader {
					survivors = append(survivors, m.Endpoint())
				}
			}
			cli, err := newClient(survivors...)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if _, err := cli.Put(ctx, "before", "1"); err != nil {
				t.Fatalf("put before the kill: %v", err)
			}

			if err := c.Kill(ctx, leader); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var attempts int
			for {
				attempts++
				pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
				_, err := cli.Put(pctx, "after", fmt.Sprint(attempts))
				pcancel()
				if err == nil {
					break
				}
				if time.Since(start) > failoverBound {
					t.Fatalf("no put succeeded within %v of killing leader %s (%d attempts, last: %v)",
						failoverBound, c.Member(leader).Name(), attempts, err)
				}
			}
			took := time.Since(start)
			t.Logf("%s: killed leader %s; a put succeeded after %v (%d attempts)", f.name, c.Member(leader).Name(), took.Round(time.Millisecond), attempts)

			newLeader, err := c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if newLeader == leader {
				t.Fatalf("killed member %d is still reported as leader", leader)
			}
			resp, err := cli.Get(ctx, "before")
			if err != nil || len(resp.Kvs) != 1 {
				t.Fatalf("get before after failover: %v %v", resp, err)
			}
		})
	}
}

// TestRestartAll writes through a 3-member cluster, kills every member with
// SIGKILL, restarts them from their data dirs, and expects every
// acknowledged key and the revision back.
func TestRestartAll(t *testing.T) {
	const keys = 200
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			c := startCluster(t, f.spec(t), 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cli, err := newClient(c.Endpoints()...)
			if err != nil {
				t.Fatal(err)
			}
			var rev int64
			for i := range keys {
				resp, err := cli.Put(ctx, fmt.Sprintf("key/%04d", i), fmt.Sprintf("value-%d", i))
				if err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				rev = resp.Header.Revision
			}
			cli.Close()

			if err := c.KillAll(ctx); err != nil {
				t.Fatal(err)
			}
			for i := range c.Size() {
				if err := c.Restart(i); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatalf("after restart: %v", err)
			}

			cli, err = newClient(c.Endpoints()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			resp, err := cli.Get(ctx, "key/", clientv3.WithPrefix())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Revision != rev {
				t.Errorf("revision after restart = %d, want %d", resp.Header.Revision, rev)
			}
			if len(resp.Kvs) != keys {
				t.Fatalf("%d keys after restart, want %d", len(resp.Kvs), keys)
			}
			for i, kv := range resp.Kvs {
				if k, v := fmt.Sprintf("key/%04d", i), fmt.Sprintf("value-%d", i); string(kv.Key) != k || string(kv.Value) != v {
					t.Fatalf("key %d after restart = %s=%s, want %s=%s", i, kv.Key, kv.Value, k, v)
				}
			}
			// Every member has it all, not just the one that answered.
			for _, m := range c.Members() {
				one, err := newClient(m.Endpoint())
				if err != nil {
					t.Fatal(err)
				}
				r, err := one.Get(ctx, "key/", clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithCountOnly())
				one.Close()
				if err != nil || r.Count != keys {
					t.Errorf("%s: serializable count %v, err %v; want %d", m.Name(), r, err, keys)
				}
			}
		})
	}
}
