package transport_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/transport"
)

// waitLimit bounds every wait in these tests; it is a deadline for a
// hang, not a timing assertion.
const waitLimit = 20 * time.Second

type snapReport struct {
	id     uint64
	status raft.SnapshotStatus
}

// fakeRaft records what a transport hands it.
type fakeRaft struct {
	changed chan struct{}
	// gate, if not nil, holds Process until it is closed (or ctx ends).
	gate chan struct{}

	mu          sync.Mutex
	msgs        []*raftpb.Message
	arrived     []time.Time
	unreachable map[uint64]int
	snaps       []snapReport
}

func newFakeRaft() *fakeRaft {
	return &fakeRaft{changed: make(chan struct{}, 1), unreachable: map[uint64]int{}}
}

func (r *fakeRaft) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *fakeRaft) Process(ctx context.Context, m *raftpb.Message) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.arrived = append(r.arrived, time.Now())
	r.mu.Unlock()
	r.notify()
	return nil
}

func (r *fakeRaft) ReportUnreachable(id uint64) {
	r.mu.Lock()
	r.unreachable[id]++
	r.mu.Unlock()
	r.notify()
}

func (r *fakeRaft) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	r.mu.Lock()
	r.snaps = append(r.snaps, snapReport{id, status})
	r.mu.Unlock()
	r.notify()
}

func (r *fakeRaft) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *fakeRaft) received() []*raftpb.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*raftpb.Message(nil), r.msgs...)
}

func (r *fakeRaft) unreachableCount(id uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unreachable[id]
}

func (r *fakeRaft) snapCount(id uint64, status raft.SnapshotStatus) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.snaps {
		if s.id == id && s.status == status {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds, re-checking whenever r records
// something, and fails the test after waitLimit.
func waitFor(t testing.TB, r *fakeRaft, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// poll waits until cond holds, for conditions no fakeRaft event signals
// (transport counters, goroutines exiting).
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func app(from, to, index uint64, payload []byte) *raftpb.Message {
	m := &raftpb.Message{
		Type:  raftpb.MsgApp.Enum(),
		From:  new(from),
		To:    new(to),
		Term:  new(uint64(1)),
		Index: new(index),
	}
	if payload != nil {
		m.Entries = []*raftpb.Entry{{Term: new(uint64(1)), Index: new(index + 1), Data: payload}}
	}
	return m
}

func snapMsg(from, to uint64, data []byte) *raftpb.Message {
	return &raftpb.Message{
		Type: raftpb.MsgSnap.Enum(),
		From: new(from),
		To:   new(to),
		Term: new(uint64(1)),
		Snapshot: &raftpb.Snapshot{
			Data: data,
			Metadata: &raftpb.SnapshotMetadata{
				Index:     new(uint64(100)),
				Term:      new(uint64(1)),
				ConfState: &raftpb.ConfState{Voters: []uint64{from, to}},
			},
		},
	}
}

// pair is two members, 1 and 2, on one kind of transport.
type pair struct {
	a, b   transport.Transport
	ra, rb *fakeRaft
	// downB closes member 2 so that it cannot be reached.
	downB func()
}

type impl struct {
	name    string
	newPair func(t *testing.T) *pair
}

func impls() []impl {
	return []impl{
		{"tcp", newTCPPair},
		{"inproc", newNetPair},
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func url(ln net.Listener) string { return "http://" + ln.Addr().String() }

func newTCP(t testing.TB, cfg transport.TCPConfig) *transport.TCP {
	t.Helper()
	tr, err := transport.NewTCP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	})
	return tr
}

func newTCPPair(t *testing.T) *pair {
	lnA, lnB := listen(t), listen(t)
	p := &pair{ra: newFakeRaft(), rb: newFakeRaft()}
	p.a = newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: p.ra,
		Peers: map[uint64][]string{2: {url(lnB)}}})
	b := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: p.rb,
		Peers: map[uint64][]string{1: {url(lnA)}}})
	p.b = b
	p.downB = func() { _ = b.Close() }
	return p
}

func newNetPair(t *testing.T) *pair {
	n := transport.NewNetwork()
	p := &pair{ra: newFakeRaft(), rb: newFakeRaft()}
	p.a = n.Join(1, p.ra)
	p.b = n.Join(2, p.rb)
	t.Cleanup(func() { _ = p.a.Close(); _ = p.b.Close() })
	p.downB = func() { _ = p.b.Close() }
	return p
}

// transportGoroutines lists the stacks of goroutines running this
// package's code (not its tests).
func transportGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "adrbench/store/transport.") && !strings.Contains(g, "transport_test.") {
			out = append(out, g)
		}
	}
	return out
}

func errorsIs(err error, targets ...error) bool {
	for _, t := range targets {
		if !errors.Is(err, t) {
			return false
		}
	}
	return true
}
