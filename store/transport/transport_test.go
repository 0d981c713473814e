package transport_test

import (
	"bytes"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/transport"
)

// sendWindowed sends n MsgApps with indexes 0..n-1 from 1 to 2 in
// batches, never letting more than window be outstanding, so that no
// queue overflows; it returns when all have arrived.
func sendWindowed(t *testing.T, p *pair, n, batch, window int, payload []byte) {
	t.Helper()
	for sent := 0; sent < n; {
		waitFor(t, p.rb, "the window to drain", func() bool { return sent-p.rb.count() <= window-batch })
		msgs := make([]*raftpb.Message, 0, batch)
		for ; len(msgs) < batch && sent < n; sent++ {
			msgs = append(msgs, app(1, 2, uint64(sent), payload))
		}
		p.a.Send(msgs)
	}
	waitFor(t, p.rb, "every message", func() bool { return p.rb.count() >= n })
}

func checkInOrder(t *testing.T, got []*raftpb.Message, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("received %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if m.GetIndex() != uint64(i) {
			t.Fatalf("message %d has index %d: out of order or lost", i, m.GetIndex())
		}
	}
}

func TestOrderedDelivery(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			const n = 20000
			payload := bytes.Repeat([]byte("x"), 256)
			sendWindowed(t, p, n, 64, 2048, payload)
			got := p.rb.received()
			checkInOrder(t, got, n)
			if !bytes.Equal(got[n-1].GetEntries()[0].GetData(), payload) {
				t.Fatal("entry payload changed in transit")
			}
			st := p.a.Stats().Peers[2]
			if st.MsgsSent != n || st.Dropped != 0 || st.BytesSent == 0 {
				t.Fatalf("sender stats %+v, want %d sent, none dropped", st, n)
			}
			poll(t, "receiver stats", func() bool { return p.b.Stats().Peers[1].MsgsReceived == n })
			if rs := p.b.Stats().Peers[1]; rs.BytesReceived != st.BytesSent {
				t.Fatalf("received %d bytes, sent %d", rs.BytesReceived, st.BytesSent)
			}
			if u := p.ra.unreachableCount(2); u != 0 {
				t.Fatalf("%d unreachable reports on a healthy link", u)
			}
		})
	}
}

func TestLossOneDropsEverything(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.a.SetLinkFault(2, transport.LinkFault{Loss: 1})
			const n = 500
			for i := range n {
				p.a.Send([]*raftpb.Message{app(1, 2, uint64(i), nil)})
			}
			p.a.Send([]*raftpb.Message{snapMsg(1, 2, []byte("state"))})
			// A lost snapshot must not leave the leader waiting.
			waitFor(t, p.ra, "the lost snapshot's failure", func() bool { return p.ra.snapCount(2, raft.SnapshotFailure) == 1 })
			p.a.SetLinkFault(2, transport.LinkFault{})
			// The link is FIFO, so once the marker is in nothing lost
			// can still arrive.
			p.a.Send([]*raftpb.Message{app(1, 2, 999999, nil)})
			waitFor(t, p.rb, "the marker", func() bool { return p.rb.count() >= 1 })
			if got := p.rb.received(); len(got) != 1 || got[0].GetIndex() != 999999 {
				t.Fatalf("received %d messages, first index %d; want only the marker", len(got), got[0].GetIndex())
			}
			if st := p.a.Stats().Peers[2]; st.FaultDropped != n+1 || st.Dropped != 0 {
				t.Fatalf("stats %+v, want %d fault drops and no other drops", st, n+1)
			}
			if u := p.ra.unreachableCount(2); u != 0 {
				t.Fatalf("injected loss reported %d times as unreachable; a real network would not tell", u)
			}
		})
	}
}

func TestDelayIsALowerBound(t *testing.T) {
	const delay = 40 * time.Millisecond
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.a.SetLinkFault(2, transport.LinkFault{Delay: delay})
			const n = 50
			sent := make([]time.Time, n)
			for i := range n {
				sent[i] = time.Now()
				p.a.Send([]*raftpb.Message{app(1, 2, uint64(i), nil)})
			}
			waitFor(t, p.rb, "every delayed message", func() bool { return p.rb.count() >= n })
			p.rb.mu.Lock()
			defer p.rb.mu.Unlock()
			for i, at := range p.rb.arrived {
				if d := at.Sub(sent[p.rb.msgs[i].GetIndex()]); d < delay {
					t.Fatalf("message %d arrived after %v, before the %v delay", i, d, delay)
				}
			}
		})
	}
}

func TestJitterKeepsOrder(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.a.SetLinkFault(2, transport.LinkFault{Delay: 2 * time.Millisecond, Jitter: 2 * time.Millisecond})
			const n = 3000
			sendWindowed(t, p, n, 10, 1000, nil)
			checkInOrder(t, p.rb.received(), n)
		})
	}
}

func TestSnapshotFinish(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			data := bytes.Repeat([]byte{0xab}, 3<<20) // bigger than any write buffer
			p.a.Send([]*raftpb.Message{snapMsg(1, 2, data)})
			waitFor(t, p.ra, "SnapshotFinish", func() bool { return p.ra.snapCount(2, raft.SnapshotFinish) == 1 })
			waitFor(t, p.rb, "the snapshot", func() bool { return p.rb.count() == 1 })
			if got := p.rb.received()[0]; !bytes.Equal(got.GetSnapshot().GetData(), data) {
				t.Fatal("snapshot data changed in transit")
			}
			if n := p.ra.snapCount(2, raft.SnapshotFailure); n != 0 {
				t.Fatalf("%d failures reported for a delivered snapshot", n)
			}
		})
	}
}

func TestSnapshotToDownPeerFails(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.downB()
			p.a.Send([]*raftpb.Message{snapMsg(1, 2, []byte("state"))})
			waitFor(t, p.ra, "SnapshotFailure", func() bool { return p.ra.snapCount(2, raft.SnapshotFailure) == 1 })
			waitFor(t, p.ra, "unreachable", func() bool { return p.ra.unreachableCount(2) > 0 })
			if n := p.ra.snapCount(2, raft.SnapshotFinish); n != 0 {
				t.Fatalf("snapshot to a down peer reported finished %d times", n)
			}
		})
	}
}

func TestUnknownAndRemovedPeers(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.a.Send([]*raftpb.Message{app(1, 1, 0, nil), nil})
			p.a.RemovePeer(2)
			p.a.Send([]*raftpb.Message{app(1, 2, 0, nil)})
			if got := p.a.Stats().UnknownPeerDrops; got != 2 {
				t.Fatalf("UnknownPeerDrops = %d, want 2 (self, removed peer)", got)
			}
			if err := p.a.AddPeer(1, []string{"http://127.0.0.1:1"}); err == nil {
				t.Fatal("AddPeer of the member itself succeeded")
			}
		})
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	for _, im := range impls() {
		t.Run("impl="+im.name, func(t *testing.T) {
			p := im.newPair(t)
			p.a.SetLinkFault(2, transport.LinkFault{Delay: time.Hour})
			p.b.SetLinkFault(1, transport.LinkFault{Jitter: time.Millisecond})
			// Leave messages waiting in a delay line and in flight.
			for i := range 100 {
				p.a.Send([]*raftpb.Message{app(1, 2, uint64(i), nil)})
				p.b.Send([]*raftpb.Message{app(2, 1, uint64(i), nil)})
			}
			p.b.Send([]*raftpb.Message{snapMsg(2, 1, make([]byte, 1<<20))})
			waitFor(t, p.ra, "traffic from 2", func() bool { return p.ra.count() > 0 })
			if err := p.a.Close(); err != nil {
				t.Fatal(err)
			}
			if err := p.b.Close(); err != nil {
				t.Fatal(err)
			}
			p.a.Send([]*raftpb.Message{app(1, 2, 0, nil)}) // a no-op after Close
			if st := p.b.Stats().Peers[1]; st.MsgsSent == 0 {
				t.Fatalf("stats after Close lost the traffic: %+v", st)
			}
			poll(t, "transport goroutines to exit", func() bool { return len(transportGoroutines()) == 0 })
		})
	}
}
