package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/proccluster"
)

// backendCase is one `--log-backend` of `adrbench serve`, or real etcd as
// the reference, and the promise its log storage makes across a crash.
type backendCase struct {
	name string
	// backend is the --log-backend value; empty for real etcd.
	backend string
	// durable backends must keep every acknowledged write across a SIGKILL
	// of all members; the others are only reported.
	durable bool
	// noRestart says why a cluster of this backend cannot be restarted
	// from its data dirs; empty when it can.
	noRestart string
}

var backendCases = []backendCase{
	{name: "backend=fsync", backend: "fsync", durable: true},
	{name: "backend=batched", backend: "batched", durable: true},
	{name: "backend=adr", backend: "adr", durable: true},
	{name: "backend=async", backend: "async"},
	{name: "backend=memory", backend: "memory", noRestart: "memory keeps nothing across a restart"},
	{name: "etcd", durable: true},
}

// spec returns the cluster config for the case; bin is the adrbench
// binary.
func (bc backendCase) spec(t *testing.T, bin string) proccluster.Config {
	t.Helper()
	if bc.backend == "" {
		return etcdSpec(t)
	}
	return serveSpec(bin, bc.backend)
}

// smokeScript is put, get through every member and a watch replaying the
// history, all deterministic: the watch starts at revision 2 after the
// writes, so it does not race them.
const smokeScript = `
put --endpoints=$EP0 k/a 1
put --endpoints=$EP1 k/b 2
put --endpoints=$EP2 k/a 3
get --endpoints=$EP0 k/a
get --endpoints=$EP1 k/ --prefix
get --endpoints=$EP2 k/b --print-value-only
@lines=9 watch --endpoints=$EP2 --rev=2 --prefix k/
`

const smokeWant = `$ etcdctl put --endpoints=$EP0 k/a 1
OK
$ etcdctl put --endpoints=$EP1 k/b 2
OK
$ etcdctl put --endpoints=$EP2 k/a 3
OK
$ etcdctl get --endpoints=$EP0 k/a
k/a
3
$ etcdctl get --endpoints=$EP1 k/ --prefix
k/a
3
k/b
2
$ etcdctl get --endpoints=$EP2 k/b --print-value-only
2
$ etcdctl @lines=9 watch --endpoints=$EP2 --rev=2 --prefix k/
PUT
k/a
1
PUT
k/b
2
PUT
k/a
3
`

// TestBackendsServeEtcdctl runs etcdctl put, get and watch against a
// 3-member cluster of every log backend.
func TestBackendsServeEtcdctl(t *testing.T) {
	etcdctl := needEtcdctl(t)
	script, err := ParseScript(smokeScript)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildAdrbench(t)
	for _, bc := range backendCases {
		if bc.backend == "" {
			continue // TestEtcdctlCompat covers real etcd
		}
		t.Run(bc.name, func(t *testing.T) {
			c := startCluster(t, bc.spec(t, bin), 3)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			got, err := Runner{Etcdctl: etcdctl, Endpoints: c.Endpoints()}.Run(ctx, script)
			if err != nil {
				t.Fatalf("run script: %v\ntranscript so far:\n%s", err, got)
			}
			if got != smokeWant {
				t.Fatalf("transcript differs (- want, + got):\n%s", lineDiff(smokeWant, got))
			}
		})
	}
}

// TestKillUnderLoad runs a write load against a 3-member cluster of each
// backend, kills every member with SIGKILL while puts are in flight,
// restarts them and reads every key back. A durable backend must return
// every key whose put was acknowledged; async promises nothing, so its
// losses are only logged. SIGKILL ends the processes but not the kernel,
// so what was written but not synced survives in the page cache: this
// finds writes acknowledged before they left the process (or lost by
// recovery), while the conformance suite's crash clones cover unsynced
// bytes.
func TestKillUnderLoad(t *testing.T) {
	bin := buildAdrbench(t)
	for _, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			if bc.noRestart != "" {
				t.Skip(bc.noRestart)
			}
			c := startCluster(t, bc.spec(t, bin), 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()

			acked := killUnderLoad(t, ctx, c, "k/")

			for i := range c.Size() {
				if err := c.Restart(i); err != nil {
					t.Fatal(err)
				}
			}
			hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
			defer hcancel()
			if err := c.WaitHealthy(hctx); err != nil {
				t.Fatalf("after restart: %v", err)
			}

			cli, err := newClient(c.Endpoints()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			resp, err := cli.Get(ctx, "k/", clientv3.WithPrefix())
			if err != nil {
				t.Fatalf("linearizable range after restart: %v", err)
			}
			found := make(map[string]string, len(resp.Kvs))
			for _, kv := range resp.Kvs {
				found[string(kv.Key)] = string(kv.Value)
			}
			var lost []string
			for k, v := range acked {
				if got, ok := found[k]; !ok || got != v {
					lost = append(lost, fmt.Sprintf("%s=%q (found %q, %v)", k, v, got, ok))
				}
			}
			t.Logf("%s: %d puts acknowledged before the kill, %d keys after the restart (%d committed but unacknowledged), %d acknowledged lost",
				bc.name, len(acked), len(found), len(found)-(len(acked)-len(lost)), len(lost))
			if bc.durable && len(lost) > 0 {
				t.Errorf("%d of %d acknowledged keys lost or changed, e.g. %v", len(lost), len(acked), lost[:min(len(lost), 5)])
			}

			// The restarted cluster takes writes again, whatever it lost.
			if _, err := cli.Put(ctx, "after-restart", "1"); err != nil {
				t.Fatalf("put after restart: %v", err)
			}
			r, err := cli.Get(ctx, "after-restart")
			if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "1" {
				t.Fatalf("get after restart: %v, %v", r, err)
			}
		})
	}
}
