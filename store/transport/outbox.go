package transport

import (
	"math/rand/v2"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// outbox is one direction of one link, up to the point where a writer
// takes messages off it: injected faults, the delay line, and the bounded
// queue the writer drains. Both transports use it; only what drains q
// differs (a TCP stream writer, or an in-process deliverer).
//
// Without faults a message goes straight into q. With a delay it goes
// into the delay line, stamped with the time it is due; runDelayLine moves
// due messages into q in FIFO order. Due times are fixed when a message
// is sent, so messages wait side by side rather than behind each other.
// The line itself is unbounded: it models bytes on the wire, whose amount
// is rate times delay; only q is bounded, as a send buffer is.
type outbox struct {
	self, peer uint64
	r          Raft
	c          *counters
	q          chan *raftpb.Message
	// cut, if set, reports whether the link is partitioned right now.
	cut func() bool
	now func() time.Time
	// wake is signalled when the line goes from empty to non-empty or
	// the fault changes; runDelayLine then recomputes its timer.
	wake chan struct{}

	mu      sync.Mutex
	fault   LinkFault
	rng     *rand.Rand
	line    []pending
	lastDue time.Time
}

type pending struct {
	m   *raftpb.Message
	due time.Time
}

func newOutbox(self, peer uint64, r Raft, c *counters, queueSize int) *outbox {
	return &outbox{
		self: self,
		peer: peer,
		r:    r,
		c:    c,
		q:    make(chan *raftpb.Message, queueSize),
		now:  time.Now,
		wake: make(chan struct{}, 1),
		// Seeded by the link so that a run's losses are reproducible.
		rng: rand.New(rand.NewPCG(self, peer)),
	}
}

func (o *outbox) setFault(f LinkFault) {
	o.mu.Lock()
	o.fault = f.clamped()
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// outcome is what became of a message handed to the outbox.
type outcome int

const (
	queued outcome = iota
	delayed
	full // dropped: queue full
	lost // dropped: injected loss or partition
)

// send hands msgs (all addressed to o.peer) to the link, then tells raft
// about any that were dropped. It never blocks on the network.
func (o *outbox) send(msgs []*raftpb.Message) {
	var drops []*raftpb.Message
	var lostSnaps int
	wasEmpty := false
	o.mu.Lock()
	for _, m := range msgs {
		switch o.admitLocked(m, &wasEmpty) {
		case full:
			drops = append(drops, m)
		case lost:
			if isSnap(m) {
				lostSnaps++
			}
		}
	}
	o.mu.Unlock()
	if wasEmpty {
		o.signal()
	}
	for range lostSnaps {
		o.r.ReportSnapshot(o.peer, raft.SnapshotFailure)
	}
	o.reportDropped(drops)
}

// admitLocked decides one message's fate. It sets *wasEmpty when the
// message started a new run of the delay line.
func (o *outbox) admitLocked(m *raftpb.Message, wasEmpty *bool) outcome {
	if o.cut != nil && o.cut() {
		o.c.faultDropped.Add(1)
		return lost
	}
	f := o.fault
	if f.Loss > 0 && o.rng.Float64() < f.Loss {
		o.c.faultDropped.Add(1)
		return lost
	}
	if f.Delay == 0 && f.Jitter == 0 && len(o.line) == 0 {
		// Nothing delayed is ahead of m, so it may skip the line.
		if o.tryQueue(m) {
			return queued
		}
		return full
	}
	d := f.Delay
	if f.Jitter > 0 {
		d += time.Duration(o.rng.Int64N(2*int64(f.Jitter)+1)) - f.Jitter
	}
	due := o.now().Add(max(d, 0))
	// FIFO: never due before the message ahead of it.
	if due.Before(o.lastDue) {
		due = o.lastDue
	}
	o.lastDue = due
	if len(o.line) == 0 {
		*wasEmpty = true
	}
	o.line = append(o.line, pending{m: m, due: due})
	return delayed
}

func (o *outbox) tryQueue(m *raftpb.Message) bool {
	select {
	case o.q <- m:
		return true
	default:
		return false
	}
}

// releaseDueLocked moves every message that is due into q, in order, and
// returns those q had no room for. It returns how long until the next
// one is due, or -1 if the line is empty.
func (o *outbox) releaseDueLocked() (drops []*raftpb.Message, next time.Duration) {
	now := o.now()
	i := 0
	for ; i < len(o.line) && !o.line[i].due.After(now); i++ {
		if !o.tryQueue(o.line[i].m) {
			drops = append(drops, o.line[i].m)
		}
		o.line[i] = pending{}
	}
	o.line = o.line[i:]
	if len(o.line) == 0 {
		return drops, -1
	}
	return drops, o.line[0].due.Sub(now)
}

// runDelayLine moves delayed messages into q as they fall due, until stop
// is closed. Messages still in the line then are discarded unreported:
// the transport or the peer is going away.
func (o *outbox) runDelayLine(stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		o.mu.Lock()
		drops, next := o.releaseDueLocked()
		o.mu.Unlock()
		o.reportDropped(drops)
		var tc <-chan time.Time
		if next >= 0 {
			timer.Reset(next)
			tc = timer.C
		}
		select {
		case <-stop:
			timer.Stop()
			return
		case <-o.wake:
		case <-tc:
		}
		timer.Stop()
	}
}

// reportDropped counts msgs as dropped and tells raft: once that the peer
// is unreachable (raft needs no more than one report per burst), and once
// per MsgSnap that the snapshot failed.
func (o *outbox) reportDropped(msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	o.c.dropped.Add(uint64(len(msgs)))
	o.r.ReportUnreachable(o.peer)
	for _, m := range msgs {
		if isSnap(m) {
			o.r.ReportSnapshot(o.peer, raft.SnapshotFailure)
		}
	}
}

// drainDropped empties q without blocking, reporting everything in it
// (and drops, already taken off it) as dropped: the writer does this while its peer is unreachable, so raft
// hears promptly instead of its messages going stale in the queue.
func (o *outbox) drainDropped(drops ...*raftpb.Message) {
	for {
		select {
		case m := <-o.q:
			drops = append(drops, m)
		default:
			o.reportDropped(drops)
			return
		}
	}
}
