package store

import (
	"context"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkReadOnlyTxn measures a read-only transaction (a compare on a
// key's value, a get in each branch) sent to a follower of a 3-member
// cluster by 16 goroutines at once, as clients see it.
func BenchmarkReadOnlyTxn(b *testing.B) {
	c := newTestCluster(b, 3, clusterOpts{})
	ctx := context.Background()
	leader := c.leader()
	cli := c.clients[(leader+1)%3]
	for i := range 100 {
		if _, err := c.clients[leader].Put(ctx, fmt.Sprintf("k%02d", i), "value"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("members=3/clients=16", func(b *testing.B) {
		b.SetParallelism(8) // 16 goroutines on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k := fmt.Sprintf("k%02d", i%100)
				i++
				resp, err := cli.Txn(ctx).
					If(clientv3.Compare(clientv3.Value(k), "=", "value")).
					Then(clientv3.OpGet(k)).
					Else(clientv3.OpGet("k00")).
					Commit()
				if err != nil {
					b.Error(err)
					return
				}
				if !resp.Succeeded {
					b.Errorf("txn on %s took the else branch", k)
					return
				}
			}
		})
	})
}

// TestReadOnlyTxnOnFollower sends read-only transactions to a follower
// right after each write to the leader: each sees the write (ReadIndex
// made it linearizable), and none goes through raft, whose commit index
// stays where the writes left it.
func TestReadOnlyTxnOnFollower(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	l, f := c.leader(), c.follower()
	for i := range 20 {
		k, v := fmt.Sprintf("k%02d", i%4), fmt.Sprintf("v%d", i)
		put, err := c.clients[l].Put(ctx, k, v)
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		resp, err := c.clients[f].Txn(ctx).
			If(clientv3.Compare(clientv3.Value(k), "=", v)).
			Then(clientv3.OpGet(k), clientv3.OpGet("k", clientv3.WithPrefix(), clientv3.WithCountOnly())).
			Else(clientv3.OpGet(k)).
			Commit()
		if err != nil {
			t.Fatalf("read-only txn %d: %v", i, err)
		}
		if !resp.Succeeded || resp.Header.Revision < put.Header.Revision {
			t.Fatalf("read-only txn %d on the follower after writing %s=%s at %d: succeeded %v at revision %d", i, k, v, put.Header.Revision, resp.Succeeded, resp.Header.Revision)
		}
		if got := resp.Responses[0].GetResponseRange().GetKvs(); len(got) != 1 || string(got[0].Value) != v {
			t.Fatalf("read-only txn %d read %v, want %s=%s", i, got, k, v)
		}
		if resp.Responses[1].GetResponseRange().GetHeader().GetMemberId() != c.members[f].ID() {
			t.Fatalf("nested response header %v does not name the follower", resp.Responses[1].GetResponseRange().GetHeader())
		}
	}
	before, err := c.clients[l].Status(ctx, c.clients[l].Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	const reads = 50
	for i := range reads {
		if _, err := c.clients[f].Txn(ctx).Then(clientv3.OpGet(fmt.Sprintf("k%02d", i%4))).Commit(); err != nil {
			t.Fatalf("read-only txn: %v", err)
		}
	}
	after, err := c.clients[l].Status(ctx, c.clients[l].Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	// Through raft each would have added an entry; nothing else writes.
	if n := after.RaftIndex - before.RaftIndex; n >= reads {
		t.Fatalf("%d read-only txns moved the commit index by %d: they went through raft", reads, n)
	}
}
