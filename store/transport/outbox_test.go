package transport

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// nopRaft counts reports; the outbox never calls Process.
type nopRaft struct {
	mu          sync.Mutex
	unreachable int
	snapFailed  int
}

func (r *nopRaft) Process(context.Context, *raftpb.Message) error { return nil }
func (r *nopRaft) ReportUnreachable(uint64) {
	r.mu.Lock()
	r.unreachable++
	r.mu.Unlock()
}
func (r *nopRaft) ReportSnapshot(_ uint64, s raft.SnapshotStatus) {
	r.mu.Lock()
	if s == raft.SnapshotFailure {
		r.snapFailed++
	}
	r.mu.Unlock()
}

// fakeClock is a manual clock for the delay line.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testOutbox(queue int) (*outbox, *fakeClock, *nopRaft) {
	r := &nopRaft{}
	o := newOutbox(1, 2, r, &counters{}, queue)
	clk := &fakeClock{t: time.Unix(1000, 0)}
	o.now = clk.now
	return o, clk, r
}

func msg(i uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Index: new(i)}
}

// release runs one step of the delay line by hand.
func release(o *outbox) ([]*raftpb.Message, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.releaseDueLocked()
}

func drain(o *outbox) []uint64 {
	var got []uint64
	for {
		select {
		case m := <-o.q:
			got = append(got, m.GetIndex())
		default:
			return got
		}
	}
}

func TestDelayLineDelaysSideBySide(t *testing.T) {
	o, clk, _ := testOutbox(1000)
	o.setFault(LinkFault{Delay: 100 * time.Millisecond})
	// 100 messages sent 1 ms apart are each due 100 ms after they were
	// sent: the delay is not paid once per message in turn.
	for i := range uint64(100) {
		o.send([]*raftpb.Message{msg(i)})
		clk.advance(time.Millisecond)
	}
	for i, p := range o.line {
		want := time.Unix(1000, 0).Add(time.Duration(i)*time.Millisecond + 100*time.Millisecond)
		if !p.due.Equal(want) {
			t.Fatalf("message %d due at %v, want %v", i, p.due, want)
		}
	}
	if drops, next := release(o); len(drops) != 0 || next != time.Millisecond {
		t.Fatalf("release at 100 ms: %d drops, next in %v; want message 0 out, message 1 in 1ms", len(drops), next)
	}
	if got := drain(o); len(got) != 1 || got[0] != 0 {
		t.Fatalf("released %v, want [0]", got)
	}
	clk.advance(99 * time.Millisecond)
	if _, next := release(o); next != -1 {
		t.Fatalf("line not empty after every message fell due: next in %v", next)
	}
	got := drain(o)
	for i, idx := range got {
		if idx != uint64(i+1) {
			t.Fatalf("released %v: out of order", got)
		}
	}
	if len(got) != 99 {
		t.Fatalf("released %d, want 99", len(got))
	}
}

func TestDelayLineJitterNeverReorders(t *testing.T) {
	o, clk, _ := testOutbox(10000)
	o.setFault(LinkFault{Delay: 10 * time.Millisecond, Jitter: 10 * time.Millisecond})
	for i := range uint64(5000) {
		o.send([]*raftpb.Message{msg(i)})
		clk.advance(time.Duration(i%3) * time.Millisecond / 2)
	}
	var (
		prev   time.Time
		spread = map[time.Duration]bool{}
	)
	for i, p := range o.line {
		if p.due.Before(prev) {
			t.Fatalf("message %d due before the one ahead of it", i)
		}
		prev = p.due
		spread[p.due.Sub(clk.t).Round(time.Millisecond)] = true
	}
	if len(spread) < 5 {
		t.Fatalf("jitter produced only %d distinct due times", len(spread))
	}
	clk.advance(time.Hour)
	release(o)
	for i, idx := range drain(o) {
		if idx != uint64(i) {
			t.Fatalf("released index %d at position %d", idx, i)
		}
	}
}

func TestFaultClearedKeepsOrder(t *testing.T) {
	o, clk, _ := testOutbox(100)
	o.setFault(LinkFault{Delay: time.Second})
	o.send([]*raftpb.Message{msg(0)})
	o.setFault(LinkFault{})
	// Without a fault, message 1 must still wait behind message 0.
	o.send([]*raftpb.Message{msg(1)})
	if got := drain(o); len(got) != 0 {
		t.Fatalf("released %v before the delayed message ahead of it", got)
	}
	clk.advance(time.Second)
	release(o)
	if got := drain(o); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("released %v, want [0 1]", got)
	}
	// With the line empty, messages skip it again.
	o.send([]*raftpb.Message{msg(2)})
	if got := drain(o); len(got) != 1 || got[0] != 2 {
		t.Fatalf("released %v, want [2] at once", got)
	}
}

func TestDelayLineFullQueueReports(t *testing.T) {
	o, clk, r := testOutbox(2)
	o.setFault(LinkFault{Delay: time.Millisecond})
	snap := &raftpb.Message{Type: raftpb.MsgSnap.Enum(), To: new(uint64(2))}
	o.send([]*raftpb.Message{msg(0), msg(1), msg(2), snap})
	clk.advance(time.Millisecond)
	drops, _ := release(o)
	if len(drops) != 2 {
		t.Fatalf("%d dropped when the line released 4 into a queue of 2", len(drops))
	}
	o.reportDropped(drops)
	if r.unreachable != 1 || r.snapFailed != 1 || o.c.dropped.Load() != 2 {
		t.Fatalf("unreachable %d, snapshot failures %d, dropped %d; want 1, 1, 2", r.unreachable, r.snapFailed, o.c.dropped.Load())
	}
}

func TestLossIsAProbability(t *testing.T) {
	o, _, _ := testOutbox(100000)
	o.setFault(LinkFault{Loss: 0.25})
	const n = 20000
	for i := range uint64(n) {
		o.send([]*raftpb.Message{msg(i)})
	}
	lost := o.c.faultDropped.Load()
	// Seeded per link, so this is deterministic; the bounds are wide.
	if lost < n/5 || lost > n*3/10 {
		t.Fatalf("lost %d of %d at loss 0.25", lost, n)
	}
	if got := drain(o); uint64(len(got))+lost != n {
		t.Fatalf("%d queued + %d lost != %d sent", len(got), lost, n)
	}
}

func TestLinkFaultValidate(t *testing.T) {
	tests := []struct {
		name string
		f    LinkFault
		ok   bool
	}{
		{"zero", LinkFault{}, true},
		{"full", LinkFault{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 1}, true},
		{"negative-delay", LinkFault{Delay: -1}, false},
		{"negative-jitter", LinkFault{Jitter: -1}, false},
		{"loss-above-one", LinkFault{Loss: 1.5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v", err)
			}
			if c := tt.f.clamped(); c.Validate() != nil {
				t.Fatalf("clamped %+v is still invalid", c)
			}
		})
	}
}
