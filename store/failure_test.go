package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/store/mvcc"
)

// TestStateMachineFailureStopsMember makes one member's database fail a
// commit while the cluster takes writes and reads, and checks that the
// member stops with the cause and serves nothing after the failure: no
// linearizable read misses a write acknowledged before it began, no
// serializable read begun after the failure answers, and no watch event
// of a revision the member applied after it arrives. The cluster goes on,
// and the member, restarted on a working disk, catches up from its log.
func TestStateMachineFailureStopsMember(t *testing.T) {
	const victim = 2
	errDisk := errors.New("disk gone")
	var armed atomic.Bool
	c := newTestCluster(t, 3, clusterOpts{memberOpts: func(i int) []Option {
		if i != victim {
			return nil
		}
		return []Option{withBeforeCommit(func() error {
			if armed.Load() {
				return errDisk
			}
			return nil
		})}
	}})
	ctx := ctxT(t)
	other := (victim + 1) % 3
	kv := c.members[victim].state.kv
	var failedRev atomic.Int64 // the revision the victim had applied when it failed
	go func() {
		<-kv.Failed()
		failedRev.Store(kv.Rev())
	}()

	// One writer counts up through another member; lastAcked is the
	// highest count acknowledged so far.
	var lastAcked atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := int64(1); loadCtx.Err() == nil; n++ {
			if _, err := c.clients[other].Put(loadCtx, "counter", strconv.FormatInt(n, 10)); err != nil {
				continue
			}
			lastAcked.Store(n)
		}
	})
	eventually(t, 10*time.Second, func() error {
		if lastAcked.Load() < 20 {
			return fmt.Errorf("%d writes acknowledged", lastAcked.Load())
		}
		return nil
	})

	// Readers and a watcher on the victim.
	var problems []string
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	vcli := c.clients[victim]
	wch := vcli.Watch(loadCtx, "counter", clientv3.WithRev(1))
	var watched []int64
	wg.Go(func() {
		for resp := range wch {
			for _, ev := range resp.Events {
				watched = append(watched, ev.Kv.ModRevision)
			}
		}
	})
	for _, serializable := range []bool{false, true} {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				failedBefore := isClosed(kv.Failed())
				ackedBefore := lastAcked.Load()
				opts := []clientv3.OpOption{}
				if serializable {
					opts = append(opts, clientv3.WithSerializable())
				}
				rctx, cancel := context.WithTimeout(loadCtx, time.Second)
				resp, err := vcli.Get(rctx, "counter", opts...)
				cancel()
				if err != nil {
					continue
				}
				got := int64(0)
				if len(resp.Kvs) == 1 {
					got, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
				}
				switch {
				case failedBefore:
					report("a read (serializable %v) begun after the failure was answered: counter=%d", serializable, got)
				case !serializable && got < ackedBefore:
					report("a linearizable read found counter=%d, below %d acknowledged before it began", got, ackedBefore)
				}
			}
		})
	}

	armed.Store(true)
	select {
	case <-c.members[victim].Done():
	case <-ctx.Done():
		t.Fatal("the member whose database failed is still running")
	}
	err := c.members[victim].Err()
	if !errors.Is(err, ErrStateMachineFailed) || !errors.Is(err, mvcc.ErrBackend) || !errors.Is(err, errDisk) {
		t.Fatalf("Err() = %v, want the state machine's failure with its cause", err)
	}
	// The others go on taking writes.
	at := lastAcked.Load()
	eventually(t, 10*time.Second, func() error {
		if lastAcked.Load() < at+20 {
			return fmt.Errorf("%d writes since the failure", lastAcked.Load()-at)
		}
		return nil
	})
	stopLoad()
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	for _, rev := range watched {
		if rev > failedRev.Load() {
			t.Errorf("a watcher on the failed member was told of revision %d, applied after the failure at %d", rev, failedRev.Load())
		}
	}

	// Restarted on a working disk, it replays its log into the database
	// as it was last committed and catches up.
	armed.Store(false)
	vcli.Close()
	c.clients[victim] = nil
	c.start(victim)
	want := lastAcked.Load()
	eventually(t, 10*time.Second, func() error {
		resp, err := c.clients[victim].Get(ctx, "counter")
		if err != nil {
			return err
		}
		if len(resp.Kvs) != 1 {
			return fmt.Errorf("counter: %v", resp.Kvs)
		}
		if got, _ := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64); got < want {
			return fmt.Errorf("counter %d after the restart, %d acknowledged", got, want)
		}
		return nil
	})
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestRaftPanicStopsMember checks that a panic of raft's own in the raft
// loop stops the member with ErrRaftInconsistent and raft's reason, and
// that any other panic is not swallowed.
func TestRaftPanicStopsMember(t *testing.T) {
	tests := []struct {
		name     string
		panicArg func(raftLogger)
		wantHint bool
	}{
		{
			name: "commit beyond the log",
			panicArg: func(l raftLogger) {
				l.Panicf("tocommit(%d) is out of range [lastIndex(%d)]. Was the raft log corrupted, truncated, or lost?", 8008, 3)
			},
			wantHint: true,
		},
		{
			name:     "other invariant",
			panicArg: func(l raftLogger) { l.Fatal("unexpected state") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			n := &raftNode{hooks: nodeHooks{onFatal: func(err error) { got = err }}}
			func() {
				defer n.recoverRaft()
				tt.panicArg(raftLogger{log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			}()
			if !errors.Is(got, ErrRaftInconsistent) {
				t.Fatalf("onFatal got %v, want ErrRaftInconsistent", got)
			}
			if hint := strings.Contains(got.Error(), "restart the current leader"); hint != tt.wantHint {
				t.Errorf("error %q: hint present %v, want %v", got, hint, tt.wantHint)
			}
		})
	}

	t.Run("not raft's", func(t *testing.T) {
		n := &raftNode{hooks: nodeHooks{onFatal: func(err error) { t.Errorf("onFatal called with %v", err) }}}
		defer func() {
			if r := recover(); r != "a bug" {
				t.Errorf("recovered %v, want the panic to go on", r)
			}
		}()
		defer n.recoverRaft()
		panic("a bug")
	})
}

// TestWipedMemberStops checks what happens when a follower comes back on an
// empty data dir while the leader still counts entries as stored on it:
// the member stops with ErrRaftInconsistent instead of crashing the
// process, and after the leader restarts (a new term), the member starts
// on an empty data dir again and catches up from the leader's snapshot.
func TestWipedMemberStops(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{snapshotCount: 50, catchUp: 10})
	ctx := ctxT(t)
	lead := c.leader()
	f := c.follower()
	for i := range 100 {
		if _, err := c.clients[lead].Put(ctx, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if got, want := c.members[f].state.kv.Rev(), c.members[lead].state.kv.Rev(); got != want {
			return fmt.Errorf("follower at revision %d, leader at %d", got, want)
		}
		return nil
	})
	c.stop(f)
	if err := os.RemoveAll(c.cfgs[f].DataDir); err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 200; i++ {
		if _, err := c.clients[lead].Put(ctx, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	c.members[f] = nil // a member that starts from nothing
	c.start(f)
	select {
	case <-c.members[f].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the wiped member did not stop")
	}
	if err := c.members[f].Err(); !errors.Is(err, ErrRaftInconsistent) {
		t.Fatalf("the wiped member stopped with %v, want ErrRaftInconsistent", err)
	}

	// What the error advises: restart the leader, then the member. The
	// stopped member's Close would return its error again.
	c.clients[f].Close()
	c.clients[f] = nil
	c.members[f].Close()
	if err := os.RemoveAll(c.cfgs[f].DataDir); err != nil {
		t.Fatal(err)
	}
	c.stop(lead)
	c.start(lead)
	c.members[f] = nil
	c.start(f)
	eventually(t, 20*time.Second, func() error {
		resp, err := c.clients[f].Get(ctx, "k199", clientv3.WithSerializable())
		if err != nil {
			return err
		}
		if len(resp.Kvs) != 1 {
			return fmt.Errorf("k199 not on the rejoined member yet")
		}
		return nil
	})
}
