package transport_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/transport"
)

func TestTCPReconnectsAfterPeerRestart(t *testing.T) {
	lnA, lnB := listen(t), listen(t)
	addrB := lnB.Addr().String()
	ra, rb := newFakeRaft(), newFakeRaft()
	a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: ra,
		Peers: map[uint64][]string{2: {url(lnB)}}})
	b, err := transport.NewTCP(transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: rb,
		Peers: map[uint64][]string{1: {url(lnA)}}})
	if err != nil {
		t.Fatal(err)
	}
	a.Send([]*raftpb.Message{app(1, 2, 0, nil)})
	waitFor(t, rb, "the first message", func() bool { return rb.count() == 1 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Member 2 comes back on the same address, as a restarted process.
	rb2 := newFakeRaft()
	newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, ListenURL: "http://" + addrB, Raft: rb2,
		Peers: map[uint64][]string{1: {url(lnA)}}})
	// Messages sent while 2 was down are dropped and reported, so keep
	// sending until one gets through, as raft's heartbeats would.
	deadline := time.Now().Add(waitLimit)
	for i := uint64(1); rb2.count() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no message reached the restarted member; sender stats %+v", a.Stats().Peers[2])
		}
		a.Send([]*raftpb.Message{app(1, 2, i, nil)})
		select {
		case <-rb2.changed:
		case <-time.After(5 * time.Millisecond):
		}
	}
	if c := a.Stats().Peers[2].Connects; c < 2 {
		t.Fatalf("Connects = %d, want a second connection", c)
	}
	// The new connection is a working stream, in order.
	before := rb2.count()
	last := rb2.received()[before-1].GetIndex()
	for i := range uint64(100) {
		a.Send([]*raftpb.Message{app(1, 2, last+1+i, nil)})
	}
	waitFor(t, rb2, "the burst after reconnecting", func() bool { return rb2.count() >= before+100 })
	for i, m := range rb2.received()[before-1:] {
		if m.GetIndex() != last+uint64(i) {
			t.Fatalf("after reconnecting, message %d has index %d, want %d", i, m.GetIndex(), last+uint64(i))
		}
	}
	if u := ra.unreachableCount(2); u == 0 {
		t.Fatal("no unreachable report while the peer was down")
	}
}

func TestTCPHandshakeRejects(t *testing.T) {
	tests := []struct {
		name string
		// the dialler (member 1) and acceptor (member 2) configs differ by
		dialCluster, acceptCluster uint64
		dialTo                     uint64 // the id member 1 thinks is at 2's URL
		acceptKnows1               bool
		want                       error
	}{
		{name: "wrong-cluster", dialCluster: 7, acceptCluster: 8, dialTo: 2, acceptKnows1: true, want: transport.ErrClusterMismatch},
		{name: "unknown-sender", dialCluster: 7, acceptCluster: 7, dialTo: 2, acceptKnows1: false, want: transport.ErrUnknownPeer},
		{name: "wrong-member-at-url", dialCluster: 7, acceptCluster: 7, dialTo: 3, acceptKnows1: true, want: transport.ErrIDMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lnA, lnB := listen(t), listen(t)
			dialErrs := make(chan error, 100)
			acceptErrs := make(chan error, 100)
			// Only handshake errors: each side also fails to dial the
			// other (below), which is not what this test is about.
			report := func(ch chan error) func(uint64, error) {
				return func(_ uint64, err error) {
					if !errors.Is(err, transport.ErrHandshake) {
						return
					}
					select {
					case ch <- err:
					default:
					}
				}
			}
			// Member 2 never reaches member 1 (nothing listens on port
			// 1), so every handshake error 2 reports is as acceptor
			// and every one 1 reports is as dialler.
			bPeers := map[uint64][]string{4: {"http://127.0.0.1:1"}}
			if tt.acceptKnows1 {
				bPeers = map[uint64][]string{1: {"http://127.0.0.1:1"}}
			}
			rb := newFakeRaft()
			newTCP(t, transport.TCPConfig{ID: 2, ClusterID: tt.acceptCluster, Listener: lnB, Raft: rb,
				Peers: bPeers, OnError: report(acceptErrs), BackoffMin: time.Hour})
			ra := newFakeRaft()
			a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: tt.dialCluster, Listener: lnA, Raft: ra,
				Peers: map[uint64][]string{tt.dialTo: {url(lnB)}}, OnError: report(dialErrs), BackoffMin: time.Hour})

			for _, side := range []struct {
				name string
				ch   chan error
			}{{"dialler", dialErrs}, {"acceptor", acceptErrs}} {
				select {
				case err := <-side.ch:
					if !errorsIs(err, transport.ErrHandshake, tt.want) {
						t.Fatalf("%s error %q, want %v and %v", side.name, err, transport.ErrHandshake, tt.want)
					}
					t.Logf("%s: %v", side.name, err)
				case <-time.After(waitLimit):
					t.Fatalf("no handshake error on the %s side", side.name)
				}
			}
			a.Send([]*raftpb.Message{app(1, tt.dialTo, 0, nil)})
			waitFor(t, ra, "the refused peer reported unreachable", func() bool { return ra.unreachableCount(tt.dialTo) > 0 })
			if st := a.Stats().Peers[tt.dialTo]; st.Connects != 0 || st.LastError == "" {
				t.Fatalf("stats %+v, want no connection and the error recorded", st)
			}
			if rb.count() != 0 {
				t.Fatal("a refused member's message was delivered")
			}
		})
	}
}

func TestTCPHandshakeRejectsStrangers(t *testing.T) {
	ln := listen(t)
	errs := make(chan error, 10)
	newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: ln, Raft: newFakeRaft(),
		OnError: func(_ uint64, err error) { errs <- err }})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errorsIs(err, transport.ErrHandshake, transport.ErrBadMagic) {
			t.Fatalf("error %q, want bad magic", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("an HTTP request was not refused")
	}
}

func TestQueueFullReportsUnreachable(t *testing.T) {
	const queue = 4
	tests := []struct {
		name string
		// stalled returns a sender whose link to member 2 accepts
		// nothing, and the sender's fakeRaft.
		stalled func(t *testing.T) (transport.Transport, *fakeRaft)
	}{
		{name: "impl=tcp", stalled: func(t *testing.T) (transport.Transport, *fakeRaft) {
			// Connections to a listener nobody accepts from complete in
			// the kernel, but the handshake reply never comes.
			deaf := listen(t)
			t.Cleanup(func() { deaf.Close() })
			ra := newFakeRaft()
			a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: listen(t), Raft: ra,
				Peers: map[uint64][]string{2: {url(deaf)}}, QueueSize: queue, DialTimeout: time.Hour})
			return a, ra
		}},
		{name: "impl=inproc", stalled: func(t *testing.T) (transport.Transport, *fakeRaft) {
			n := transport.NewNetworkSize(queue)
			ra, rb := newFakeRaft(), newFakeRaft()
			rb.gate = make(chan struct{}) // member 2 never finishes Process
			a, b := n.Join(1, ra), n.Join(2, rb)
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, ra
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ra := tt.stalled(t)
			const n = 100
			msgs := make([]*raftpb.Message, 0, n+1)
			for i := range n {
				msgs = append(msgs, app(1, 2, uint64(i), nil))
			}
			msgs = append(msgs, snapMsg(1, 2, []byte("state")))
			a.Send(msgs)
			// At most the queue and the one message the stalled writer
			// holds get through; Send returned without blocking.
			if st := a.Stats().Peers[2]; st.Dropped < n+1-queue-1 {
				t.Fatalf("Dropped = %d, want at least %d", st.Dropped, n+1-queue-1)
			}
			waitFor(t, ra, "unreachable", func() bool { return ra.unreachableCount(2) > 0 })
			waitFor(t, ra, "SnapshotFailure", func() bool { return ra.snapCount(2, raft.SnapshotFailure) == 1 })
		})
	}
}

func TestTCPConfigValidate(t *testing.T) {
	ok := func() transport.TCPConfig {
		c := transport.DefaultTCPConfig()
		c.ID, c.ClusterID, c.Raft, c.ListenURL = 1, 7, newFakeRaft(), "http://127.0.0.1:0"
		c.Peers = map[uint64][]string{2: {"http://127.0.0.1:2380"}}
		return c
	}
	tests := []struct {
		name   string
		mutate func(*transport.TCPConfig)
		want   error
	}{
		{"valid", func(*transport.TCPConfig) {}, nil},
		{"zero-id", func(c *transport.TCPConfig) { c.ID = 0 }, transport.ErrInvalidConfig},
		{"no-raft", func(c *transport.TCPConfig) { c.Raft = nil }, transport.ErrInvalidConfig},
		{"no-listener", func(c *transport.TCPConfig) { c.ListenURL = "" }, transport.ErrInvalidConfig},
		{"https-listen", func(c *transport.TCPConfig) { c.ListenURL = "https://127.0.0.1:2380" }, transport.ErrInvalidConfig},
		{"peer-without-port", func(c *transport.TCPConfig) { c.Peers[2] = []string{"http://127.0.0.1"} }, transport.ErrInvalidConfig},
		{"peer-is-self", func(c *transport.TCPConfig) { c.Peers[1] = []string{"http://127.0.0.1:1"} }, transport.ErrInvalidConfig},
		{"frame-limit-too-big", func(c *transport.TCPConfig) { c.MaxMessageBytes = 1 << 40 }, transport.ErrInvalidConfig},
		{"backoff-inverted", func(c *transport.TCPConfig) { c.BackoffMin, c.BackoffMax = time.Second, time.Millisecond }, transport.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTCPRemovePeerClosesItsConnections(t *testing.T) {
	p := newTCPPair(t)
	p.a.Send([]*raftpb.Message{app(1, 2, 0, nil)})
	waitFor(t, p.rb, "the first message", func() bool { return p.rb.count() == 1 })
	// 2 forgets 1: 1's connection is closed and its redials refused.
	p.b.RemovePeer(1)
	deadline := time.Now().Add(waitLimit)
	for p.ra.unreachableCount(2) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the removed member was never told its peer is unreachable")
		}
		p.a.Send([]*raftpb.Message{app(1, 2, 1, nil)})
		select {
		case <-p.ra.changed:
		case <-time.After(5 * time.Millisecond):
		}
	}
	if p.a.Stats().Peers[2].LastError == "" {
		t.Fatal("no error recorded for the refused peer")
	}
	// Adding it back lets it in again.
	lnA := p.a.(*transport.TCP).Addr().String()
	if err := p.b.AddPeer(1, []string{"http://" + lnA}); err != nil {
		t.Fatal(err)
	}
	start := p.rb.count()
	deadline = time.Now().Add(waitLimit)
	for p.rb.count() == start {
		if time.Now().After(deadline) {
			t.Fatal("the re-added member's messages never arrived")
		}
		p.a.Send([]*raftpb.Message{app(1, 2, 2, nil)})
		select {
		case <-p.rb.changed:
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestTCPOversizedMessageIsDroppedAlone(t *testing.T) {
	lnA, lnB := listen(t), listen(t)
	ra, rb := newFakeRaft(), newFakeRaft()
	a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: ra,
		Peers: map[uint64][]string{2: {url(lnB)}}, MaxMessageBytes: 4096, MaxSnapshotBytes: 4096})
	newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: rb,
		Peers: map[uint64][]string{1: {url(lnA)}}, MaxMessageBytes: 4096, MaxSnapshotBytes: 4096})
	big := app(1, 2, 0, make([]byte, 8192))
	a.Send([]*raftpb.Message{app(1, 2, 1, nil), big, app(1, 2, 2, nil), snapMsg(1, 2, make([]byte, 8192))})
	waitFor(t, ra, "the oversized snapshot's failure", func() bool { return ra.snapCount(2, raft.SnapshotFailure) == 1 })
	waitFor(t, rb, "the messages around it", func() bool { return rb.count() == 2 })
	if got := rb.received(); got[0].GetIndex() != 1 || got[1].GetIndex() != 2 {
		t.Fatalf("received indexes %d, %d; want 1, 2", got[0].GetIndex(), got[1].GetIndex())
	}
	st := a.Stats().Peers[2]
	if st.Dropped != 2 || !strings.Contains(st.LastError, "too large") || st.Connects != 1 {
		t.Fatalf("stats %+v; want 2 dropped on one connection", st)
	}
	if ra.unreachableCount(2) == 0 {
		t.Fatal("dropping an oversized message was not reported")
	}
}
