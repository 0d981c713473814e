package transport_test

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/transport"
)

func TestNetworkPartitionAndHeal(t *testing.T) {
	n := transport.NewNetwork()
	r := map[uint64]*fakeRaft{1: newFakeRaft(), 2: newFakeRaft(), 3: newFakeRaft()}
	tr := map[uint64]transport.Transport{}
	for id, fr := range r {
		tr[id] = n.Join(id, fr)
		t.Cleanup(func() { _ = tr[id].Close() })
	}
	n.Isolate(1)
	tr[1].Send([]*raftpb.Message{app(1, 2, 0, nil), app(1, 3, 0, nil)})
	tr[2].Send([]*raftpb.Message{app(2, 1, 0, nil)})
	tr[2].Send([]*raftpb.Message{app(2, 3, 7, nil)}) // 2 and 3 still talk
	waitFor(t, r[3], "2 -> 3 across no partition", func() bool { return r[3].count() == 1 })
	if got := r[3].received()[0]; got.GetFrom() != 2 {
		t.Fatalf("3 received from %d through the partition", got.GetFrom())
	}
	n.Heal()
	// FIFO links: once these markers arrive, nothing cut can follow.
	tr[1].Send([]*raftpb.Message{app(1, 2, 9, nil)})
	tr[2].Send([]*raftpb.Message{app(2, 1, 9, nil)})
	waitFor(t, r[2], "1 -> 2 after healing", func() bool { return r[2].count() == 1 })
	waitFor(t, r[1], "2 -> 1 after healing", func() bool { return r[1].count() == 1 })
	if r[2].received()[0].GetIndex() != 9 || r[1].received()[0].GetIndex() != 9 {
		t.Fatal("a message sent across the partition was delivered")
	}
	if fd := tr[1].Stats().Peers[2].FaultDropped; fd != 1 {
		t.Fatalf("1 -> 2 FaultDropped = %d, want 1", fd)
	}
}

func TestNetworkRejoinReplacesMember(t *testing.T) {
	n := transport.NewNetwork()
	ra, rb, rb2 := newFakeRaft(), newFakeRaft(), newFakeRaft()
	a := n.Join(1, ra)
	b := n.Join(2, rb)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	a.Send([]*raftpb.Message{app(1, 2, 0, nil)})
	waitFor(t, rb, "delivery to the first member 2", func() bool { return rb.count() == 1 })
	b2 := n.Join(2, rb2) // a restart: the old member 2 is closed
	t.Cleanup(func() { _ = b2.Close() })
	b.Send([]*raftpb.Message{app(2, 1, 0, nil)}) // closed: a no-op
	a.Send([]*raftpb.Message{app(1, 2, 1, nil)})
	waitFor(t, rb2, "delivery to the restarted member 2", func() bool { return rb2.count() == 1 })
	if rb.count() != 1 || ra.count() != 0 {
		t.Fatal("the replaced member still sends or receives")
	}
}

func TestNetworkAddPeerUndoesRemove(t *testing.T) {
	p := newNetPair(t)
	p.a.RemovePeer(2)
	p.a.Send([]*raftpb.Message{app(1, 2, 0, nil)})
	if err := p.a.AddPeer(2, nil); err != nil {
		t.Fatal(err)
	}
	p.a.Send([]*raftpb.Message{app(1, 2, 1, nil)})
	waitFor(t, p.rb, "delivery after AddPeer", func() bool { return p.rb.count() == 1 })
	if got := p.rb.received()[0].GetIndex(); got != 1 {
		t.Fatalf("received index %d, want 1 (0 went to a removed peer)", got)
	}
}
