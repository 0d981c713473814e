package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/codes"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/memory"
)

func TestReplicatedWritesAndReads(t *testing.T) {
	for _, backend := range []string{"batched", "memory"} {
		t.Run("backend="+backend, func(t *testing.T) {
			c := newTestCluster(t, 3, clusterOpts{backend: backend})
			ctx := ctxT(t)
			l, f := c.leader(), c.follower()
			var lastRev int64
			for i := 0; i < 50; i++ {
				// Alternate members: a follower forwards its proposals.
				cli := c.clients[[]int{l, f}[i%2]]
				resp, err := cli.Put(ctx, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
				if err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				if resp.Header.Revision <= lastRev {
					t.Fatalf("revision went from %d to %d", lastRev, resp.Header.Revision)
				}
				lastRev = resp.Header.Revision
			}
			// A linearizable read on any member sees every write before it.
			for i, cli := range c.clients {
				resp, err := cli.Get(ctx, "k", clientv3.WithPrefix())
				if err != nil {
					t.Fatalf("get on member %d: %v", i, err)
				}
				if resp.Count != 50 || resp.Header.Revision != lastRev {
					t.Fatalf("member %d: count %d rev %d, want 50 at %d", i, resp.Count, resp.Header.Revision, lastRev)
				}
			}
		})
	}
}

func TestLeaderFailover(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	l := c.leader()
	if _, err := c.clients[l].Put(ctx, "before", "1"); err != nil {
		t.Fatal(err)
	}
	old := c.members[l].ID()
	c.stop(l)
	nl := c.leader()
	if c.members[nl].ID() == old {
		t.Fatal("stopped member still leads")
	}
	eventually(t, 10*time.Second, func() error {
		_, err := c.clients[nl].Put(ctx, "after", "2")
		return err
	})
	resp, err := c.clients[nl].Get(ctx, "before")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("write before failover lost: %v %v", resp, err)
	}
}

func TestRestartRecoversEveryWrite(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{snapshotCount: 40, catchUp: 10})
	ctx := ctxT(t)
	l := c.leader()
	var rev int64
	for i := 0; i < 150; i++ {
		resp, err := c.clients[l].Put(ctx, fmt.Sprintf("key/%03d", i), strings.Repeat("x", i))
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	if _, err := c.clients[l].Delete(ctx, "key/000"); err != nil {
		t.Fatal(err)
	}
	rev++
	for i := range c.members {
		c.stop(i)
	}
	for i := range c.members {
		c.start(i)
	}
	// Replaying three logs takes a while on a loaded machine: the reads
	// get a deadline of their own.
	ctx = ctxT(t)
	l = c.leader()
	for i, cli := range c.clients {
		eventually(t, 10*time.Second, func() error {
			resp, err := cli.Get(ctx, "key/", clientv3.WithPrefix(), clientv3.WithSerializable())
			if err != nil {
				return err
			}
			if resp.Count != 149 || resp.Header.Revision < rev {
				return fmt.Errorf("member %d: %d keys at rev %d, want 149 at >= %d", i, resp.Count, resp.Header.Revision, rev)
			}
			for _, kv := range resp.Kvs {
				var n int
				fmt.Sscanf(string(kv.Key), "key/%d", &n)
				if len(kv.Value) != n {
					return fmt.Errorf("member %d: %s has %d bytes, want %d", i, kv.Key, len(kv.Value), n)
				}
			}
			return nil
		})
	}
}

func TestLaggingFollowerCatchesUpFromSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{snapshotCount: 20, catchUp: 5})
	ctx := ctxT(t)
	l := c.leader()
	f := c.follower()
	c.net.Isolate(c.members[f].ID())
	other := 3 - l - f
	for i := 0; i < 100; i++ {
		if _, err := c.clients[l].Put(ctx, fmt.Sprintf("s%03d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	_ = other
	c.net.Heal()
	eventually(t, 15*time.Second, func() error {
		resp, err := c.clients[f].Get(ctx, "s", clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		if resp.Count != 100 {
			return fmt.Errorf("follower has %d keys", resp.Count)
		}
		return nil
	})
}

func TestWatchFromPastRevisionSeesEveryEvent(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	l, f := c.leader(), c.follower()
	first, err := c.clients[l].Put(ctx, "w/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.clients[l].Put(ctx, "w/b", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.clients[l].Delete(ctx, "w/a"); err != nil {
		t.Fatal(err)
	}
	wch := c.clients[f].Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(first.Header.Revision), clientv3.WithPrevKV())
	for i := 0; i < 20; i++ {
		if _, err := c.clients[l].Put(ctx, "w/c", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 23 {
		resp, ok := <-wch
		if !ok {
			t.Fatalf("watch closed after %d events", len(got))
		}
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range resp.Events {
			s := fmt.Sprintf("%s %s=%s", ev.Type, ev.Kv.Key, ev.Kv.Value)
			if ev.Type == mvccpb.DELETE && (ev.PrevKv == nil || string(ev.PrevKv.Value) != "1") {
				t.Fatalf("delete without prev kv: %v", ev)
			}
			got = append(got, s)
		}
	}
	want := []string{"PUT w/a=1", "PUT w/b=2", "DELETE w/a="}
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprintf("PUT w/c=%d", i))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWatchFromCompactedRevision(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	ctx := ctxT(t)
	r1, err := c.clients[0].Put(ctx, "a", "1")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.clients[0].Put(ctx, "a", "2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.clients[0].Compact(ctx, r2.Header.Revision); err != nil {
		t.Fatal(err)
	}
	resp := <-c.clients[0].Watch(ctx, "a", clientv3.WithRev(r1.Header.Revision))
	if resp.CompactRevision != r2.Header.Revision || !errors.Is(resp.Err(), rpctypes.ErrCompacted) {
		t.Fatalf("watch from compacted rev: compact_revision %d err %v", resp.CompactRevision, resp.Err())
	}
	if _, err := c.clients[0].Get(ctx, "a", clientv3.WithRev(r1.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get at compacted rev: %v", err)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	f := c.follower()
	cli := c.clients[f]
	g, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "lk", "v", clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	wch := cli.Watch(ctx, "lk")
	// Keep-alive and time-to-live at a follower are forwarded to the leader.
	ka, err := cli.KeepAliveOnce(ctx, g.ID)
	if err != nil || ka.TTL != 60 {
		t.Fatalf("keep-alive: %v %v", ka, err)
	}
	ttl, err := cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 60 || ttl.TTL <= 0 || len(ttl.Keys) != 1 || string(ttl.Keys[0]) != "lk" {
		t.Fatalf("time-to-live: %+v", ttl)
	}
	if _, err := cli.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctx, "lk")
	if err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("key survived revoke: %v %v", resp, err)
	}
	ev := <-wch
	if len(ev.Events) != 1 || ev.Events[0].Type != mvccpb.DELETE {
		t.Fatalf("watcher not told of revoke: %+v", ev)
	}
	if ttl, err := cli.TimeToLive(ctx, g.ID); err != nil || ttl.TTL != -1 {
		t.Fatalf("time-to-live of revoked lease: %+v %v", ttl, err)
	}
	if _, err := cli.Put(ctx, "lk", "v", clientv3.WithLease(g.ID)); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("put with revoked lease: %v", err)
	}
}

func TestLeaseExpiresAndDeletesKeys(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	cli := c.clients[c.leader()]
	g, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "ek", "v", clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		resp, err := cli.Get(ctx, "ek")
		if err != nil {
			return err
		}
		if len(resp.Kvs) != 0 {
			return errors.New("key still there")
		}
		return nil
	})
}

func TestBadRequests(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	ctx := ctxT(t)
	cli := c.clients[0]
	if _, err := cli.Put(ctx, "good", "1"); err != nil {
		t.Fatal(err)
	}
	tooMany := make([]clientv3.Op, 129)
	for i := range tooMany {
		tooMany[i] = clientv3.OpPut(fmt.Sprintf("t%d", i), "v")
	}
	tests := []struct {
		name string
		do   func() error
		code codes.Code
		msg  string
	}{
		{"value over the request limit", func() error {
			_, err := cli.Put(ctx, "big", strings.Repeat("x", 1600*1024))
			return err
		}, codes.InvalidArgument, "etcdserver: request is too large"},
		{"txn with 129 ops", func() error {
			_, err := cli.Txn(ctx).Then(tooMany...).Commit()
			return err
		}, codes.InvalidArgument, "etcdserver: too many operations in txn request"},
		{"duplicate key in txn", func() error {
			_, err := cli.Txn(ctx).Then(clientv3.OpPut("d", "1"), clientv3.OpPut("d", "2")).Commit()
			return err
		}, codes.InvalidArgument, "etcdserver: duplicate key given in txn request"},
		{"empty key", func() error {
			_, err := cli.Put(ctx, "", "1")
			return err
		}, codes.InvalidArgument, "etcdserver: key is not provided"},
		{"future revision", func() error {
			_, err := cli.Get(ctx, "good", clientv3.WithRev(1000))
			return err
		}, codes.OutOfRange, "etcdserver: mvcc: required revision is a future revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// clientv3 turns the gRPC status into an EtcdError with the
			// same code and message.
			err := tt.do()
			var ee rpctypes.EtcdError
			if !errors.As(err, &ee) || ee.Code() != tt.code || ee.Error() != tt.msg {
				t.Fatalf("got %v, want %v %q", err, tt.code, tt.msg)
			}
		})
	}
	resp, err := cli.Get(ctx, "", clientv3.WithPrefix())
	if err != nil || resp.Count != 1 {
		t.Fatalf("bad requests changed the store: %v %v", resp, err)
	}
}

func TestGateway(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	base := "http://" + c.members[0].ClientAddr()
	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	// Keys and values are base64: "foo" is Zm9v, "bar" is YmFy.
	if code, m := post("/v3/kv/put", `{"key":"Zm9v","value":"YmFy"}`); code != 200 {
		t.Fatalf("put: %d %v", code, m)
	}
	code, m := post("/v3/kv/range", `{"key":"Zm9v"}`)
	kvs, _ := m["kvs"].([]any)
	if code != 200 || len(kvs) != 1 || kvs[0].(map[string]any)["value"] != "YmFy" {
		t.Fatalf("range: %d %v", code, m)
	}
	code, m = post("/v3/lease/grant", `{"TTL":30}`)
	if code != 200 || m["TTL"] != "30" {
		t.Fatalf("lease grant: %d %v", code, m)
	}
	if code, m := post("/v3/kv/put", `{"key":`); code != http.StatusBadRequest {
		t.Fatalf("malformed body: %d %v", code, m)
	}
	// A body past the request-size limit is refused before it is read
	// whole; one just under it (in base64) goes through.
	limit := gatewayBodyLimit(c.cfgs[0].MaxRequestBytes)
	huge := `{"key":"Zm9v","value":"` + strings.Repeat("A", int(limit)) + `"}`
	if code, m := post("/v3/kv/put", huge); code == http.StatusOK {
		t.Fatalf("a %d-byte body past the %d-byte limit: %d %v", len(huge), limit, code, m)
	}
	fits := `{"key":"Zm9v","value":"` + strings.Repeat("A", c.cfgs[0].MaxRequestBytes*4/3-4096) + `"}`
	if code, m := post("/v3/kv/put", fits); code != http.StatusOK {
		t.Fatalf("a request just under --max-request-bytes: %d %v", code, m)
	}
	// A watch streams one JSON object per response.
	req, _ := http.NewRequest("POST", base+"/v3/watch", bytes.NewBufferString(`{"create_request":{"key":"Zm9v","start_revision":1}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Result struct {
				Events []map[string]any `json:"events"`
			} `json:"result"`
		}
		if err := dec.Decode(&msg); err != nil {
			t.Fatal(err)
		}
		if len(msg.Result.Events) > 0 {
			break
		}
	}
	hresp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	if hresp.StatusCode != 200 || !strings.Contains(string(hb), `"health":"true"`) {
		t.Fatalf("health: %d %s", hresp.StatusCode, hb)
	}
}

func TestStatusAndMembers(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	l := c.leader()
	f := c.follower()
	st, err := c.clients[f].Status(ctx, c.members[f].ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != c.members[l].ID() || st.Header.MemberId != c.members[f].ID() || st.RaftTerm == 0 {
		t.Fatalf("status: %+v", st)
	}
	eventually(t, 10*time.Second, func() error {
		ml, err := c.clients[f].MemberList(ctx)
		if err != nil {
			return err
		}
		if len(ml.Members) != 3 {
			return fmt.Errorf("%d members", len(ml.Members))
		}
		for _, m := range ml.Members {
			if len(m.ClientURLs) != 1 || m.Name == "" {
				return fmt.Errorf("member %x not published yet: %+v", m.ID, m)
			}
		}
		return nil
	})
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			c := newTestCluster(t, 1, clusterOpts{pprof: enabled})
			resp, err := http.Get("http://" + c.members[0].ClientAddr() + "/debug/pprof/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusNotFound
			if enabled {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("/debug/pprof/: %d, want %d", resp.StatusCode, want)
			}
		})
	}
}

// failingBackend fails every Save once armed, as a log on a dead disk does.
type failingBackend struct {
	logbackends.Backend
	armed *atomic.Bool
	err   error
}

func (b failingBackend) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	if b.armed.Load() {
		return b.err
	}
	return b.Backend.Save(hs, ents, snap, mustSync)
}

// TestLogFailureStopsMember checks that a member whose log cannot be
// written stops, answers its waiting requests, and reports why.
func TestLogFailureStopsMember(t *testing.T) {
	var armed atomic.Bool
	errDiskGone := errors.New("disk gone")
	reg := testRegistry()
	reg.Register(logbackends.Entry{Name: "failing", Saved: "nothing, once armed: Save fails", Open: func(env logbackends.Env) (logbackends.Backend, error) {
		b, err := memory.Open(env)
		if err != nil {
			return nil, err
		}
		return failingBackend{Backend: b, armed: &armed, err: errDiskGone}, nil
	}})
	c := newTestCluster(t, 1, clusterOpts{backend: "failing", reg: reg})
	ctx := ctxT(t)
	cli := c.clients[0]
	if _, err := cli.Put(ctx, "before", "1"); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	if _, err := cli.Put(ctx, "after", "2"); err == nil {
		t.Fatal("put acknowledged by a member that cannot write its log")
	}
	select {
	case <-c.members[0].Done():
	case <-ctx.Done():
		t.Fatal("member still running after its log failed")
	}
	if err := c.members[0].Err(); !errors.Is(err, errDiskGone) {
		t.Fatalf("Err() = %v, want the log's error", err)
	}
	// The member is stopped already; the fixture must not close it again
	// and take its error for a failed shutdown.
	cli.Close()
	c.clients[0] = nil
}
