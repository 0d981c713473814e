package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/proccluster"
)

// Load shape of the kill and power-loss tests: enough writers over few
// enough connections that puts are in flight on every member when they
// die.
const (
	loadWriters = 16
	loadClients = 4
	// loadFor: the cut comes after a test's number of acknowledged puts or
	// loadFor, whichever is first, but never before the first
	// acknowledgement.
	loadFor = 1500 * time.Millisecond
	// firstAckBound only catches a cluster that takes no writes at all.
	firstAckBound = 15 * time.Second
	// putTimeout bounds each put, so writers stuck on a dead member end.
	putTimeout = 2 * time.Second
)

// ack is an acknowledged put: its key, value and revision, and when the
// answer came.
type ack struct {
	key, value string
	rev        int64
	at         time.Time
}

// loadThenCut has loadWriters writers put unique keys (key names writer
// w's seq-th key and value) into c until enough puts are acknowledged or
// loadFor has passed, then calls cut while puts are still in flight, and
// only then stops the writers: puts answered before or during the cut were
// acknowledged and count. It returns the acknowledged puts in the order
// they were answered, and the put errors seen while the load ran, by text.
func loadThenCut(t *testing.T, ctx context.Context, c *proccluster.Cluster, enough int64,
	key func(w, seq int) (k, v string), cut func()) ([]ack, map[string]int) {
	t.Helper()
	clients := make([]*clientv3.Client, loadClients)
	for i := range clients {
		cli, err := newClient(c.Endpoints()...)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		clients[i] = cli
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var (
		wg       sync.WaitGroup
		count    atomic.Int64
		mu       sync.Mutex
		acked    []ack
		failures = map[string]int{}
	)
	for w := range loadWriters {
		wg.Go(func() {
			cli := clients[w%loadClients]
			for seq := 0; loadCtx.Err() == nil; seq++ {
				k, v := key(w, seq)
				pctx, pcancel := context.WithTimeout(loadCtx, putTimeout)
				resp, err := cli.Put(pctx, k, v)
				pcancel()
				now := time.Now()
				mu.Lock()
				if err == nil {
					acked = append(acked, ack{key: k, value: v, rev: resp.Header.Revision, at: now})
					count.Add(1)
				} else if loadCtx.Err() == nil {
					failures[err.Error()]++
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := count.Load()
		if n >= enough || (n > 0 && time.Since(start) >= loadFor) {
			break
		}
		if n == 0 && time.Since(start) > firstAckBound {
			stopLoad()
			wg.Wait()
			t.Fatalf("no put acknowledged within %v; errors: %v", firstAckBound, failures)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the load: %v", ctx.Err())
		case <-tick.C:
		}
	}
	cut()
	stopLoad()
	wg.Wait()
	return acked, failures
}

// killUnderLoad puts unique keys <prefix><writer>/<seq> into c, kills
// every member once 500 puts were acknowledged, and returns the
// acknowledged keys with their values.
func killUnderLoad(t *testing.T, ctx context.Context, c *proccluster.Cluster, prefix string) map[string]string {
	t.Helper()
	start := time.Now()
	var killErr error
	acks, failures := loadThenCut(t, ctx, c, 500,
		func(w, seq int) (string, string) {
			return fmt.Sprintf("%s%02d/%06d", prefix, w, seq), fmt.Sprintf("v-%d-%d", w, seq)
		},
		func() { killErr = c.KillAll(ctx) })
	if killErr != nil {
		t.Fatal(killErr)
	}
	acked := make(map[string]string, len(acks))
	for _, a := range acks {
		acked[a.key] = a.value
	}
	t.Logf("killed all members %v into the load, after %d acknowledged puts; put errors during the load: %v",
		time.Since(start).Round(time.Millisecond), len(acked), failures)
	return acked
}
