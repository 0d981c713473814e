package store

import (
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func TestProposalGroupHold(t *testing.T) {
	t0 := time.Unix(1000, 0)
	appendedAt := func(idx uint64, took time.Duration) func(*proposalGroup) {
		return func(g *proposalGroup) {
			g.saved([]*raftpb.Entry{{Index: new(idx - 1)}, {Index: new(idx)}}, took)
		}
	}
	tests := []struct {
		name   string
		setup  func(*proposalGroup)
		held   int
		now    time.Time
		leader bool
		commit uint64
		want   bool
	}{
		{name: "nothing held", setup: appendedAt(10, time.Microsecond), held: 0, now: t0, leader: true, commit: 5, want: false},
		{name: "append in flight", setup: appendedAt(10, time.Microsecond), held: 3, now: t0, leader: true, commit: 5, want: true},
		{name: "append committed", setup: appendedAt(10, time.Microsecond), held: 3, now: t0, leader: true, commit: 10, want: false},
		{name: "follower", setup: appendedAt(10, time.Microsecond), held: 3, now: t0, leader: false, commit: 5, want: false},
		{name: "slow saves", setup: appendedAt(10, 100*time.Millisecond), held: 3, now: t0, leader: true, commit: 5, want: false},
		{name: "window not over", setup: appendedAt(10, time.Microsecond), held: 3, now: t0.Add(groupWindow - time.Microsecond), leader: true, commit: 5, want: true},
		{name: "window over", setup: appendedAt(10, time.Microsecond), held: 3, now: t0.Add(groupWindow), leader: true, commit: 5, want: false},
		{name: "full", setup: appendedAt(10, time.Microsecond), held: maxBatch, now: t0, leader: true, commit: 5, want: false},
		{name: "no append yet", setup: func(*proposalGroup) {}, held: 3, now: t0, leader: true, commit: 0, want: false},
		{name: "empty save leaves the last append", setup: func(g *proposalGroup) {
			appendedAt(10, time.Microsecond)(g)
			g.saved(nil, time.Second)
		}, held: 3, now: t0, leader: true, commit: 5, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newProposalGroup()
			tt.setup(g)
			for i := range tt.held {
				g.add(proposal{id: uint64(i + 1)}, t0)
			}
			got := g.hold(tt.now, tt.leader, func() uint64 { return tt.commit })
			if got != tt.want {
				t.Fatalf("hold = %v, want %v", got, tt.want)
			}
			if got != g.armed {
				t.Fatalf("timer armed = %v after hold = %v", g.armed, got)
			}
			if n := len(g.take()); n != tt.held {
				t.Fatalf("take returned %d proposals, want %d", n, tt.held)
			}
			if g.armed {
				t.Fatal("timer still armed after take")
			}
			g.reset()
			if len(g.held) != 0 {
				t.Fatalf("%d proposals held after reset", len(g.held))
			}
		})
	}
}

func TestProposalGroupSlowSavesStopHolding(t *testing.T) {
	g := newProposalGroup()
	t0 := time.Unix(1000, 0)
	g.add(proposal{id: 1}, t0)
	g.saved([]*raftpb.Entry{{Index: new(uint64(1))}}, time.Microsecond)
	inFlight := func() uint64 { return 0 }
	saves := 0
	for g.hold(t0, true, inFlight) {
		g.take()
		g.saved([]*raftpb.Entry{{Index: new(uint64(saves + 2))}}, 2*time.Millisecond)
		saves++
		if saves > 100 {
			t.Fatalf("still holding after %d Saves of 2ms (average %v)", saves, g.saveAvg)
		}
	}
	if saves == 0 {
		t.Fatal("did not hold after a fast Save")
	}
	if g.saveAvg < fastSave {
		t.Fatalf("stopped holding with an average Save of %v, below %v", g.saveAvg, fastSave)
	}
}

func TestForwardable(t *testing.T) {
	prop := raftpb.MsgProp.Enum()
	tests := []struct {
		name string
		m    *raftpb.Message
		want bool
	}{
		{name: "plain entries", m: &raftpb.Message{Type: prop, Entries: []*raftpb.Entry{{Data: []byte("a")}, {Data: []byte("b")}}}, want: true},
		{name: "no entries", m: &raftpb.Message{Type: prop}, want: false},
		{name: "conf change", m: &raftpb.Message{Type: prop, Entries: []*raftpb.Entry{{Data: []byte("a")}, {Type: raftpb.EntryConfChange.Enum()}}}, want: false},
		{name: "conf change v2", m: &raftpb.Message{Type: prop, Entries: []*raftpb.Entry{{Type: raftpb.EntryConfChangeV2.Enum()}}}, want: false},
		{name: "indexed entry", m: &raftpb.Message{Type: prop, Entries: []*raftpb.Entry{{Index: new(uint64(3)), Data: []byte("a")}}}, want: false},
		{name: "append", m: &raftpb.Message{Type: raftpb.MsgApp.Enum(), Entries: []*raftpb.Entry{{Data: []byte("a")}}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwardable(tt.m); got != tt.want {
				t.Fatalf("forwardable = %v, want %v", got, tt.want)
			}
		})
	}
}
