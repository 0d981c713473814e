package transport_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/transport"
)

// forger is a raw TCP client that knows what any client of the store
// can learn from a response header, the cluster id and a member id, and
// speaks the peer protocol by hand.
type forger struct {
	t    testing.TB
	addr string
}

// open dials and completes the handshake as member from of cluster,
// asking for a connection of kind (0 stream, 1 snapshot).
func (f forger) open(kind uint16, cluster, from, to uint64) net.Conn {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	var h [32]byte
	copy(h[:], "ADRT")
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint16(h[6:], kind)
	binary.BigEndian.PutUint64(h[8:], cluster)
	binary.BigEndian.PutUint64(h[16:], from)
	binary.BigEndian.PutUint64(h[24:], to)
	if _, err := c.Write(h[:]); err != nil {
		f.t.Fatal(err)
	}
	var rp [26]byte
	if _, err := io.ReadFull(c, rp[:]); err != nil {
		f.t.Fatalf("reading the reply: %v", err)
	}
	if status := binary.BigEndian.Uint16(rp[6:]); status != 0 {
		f.t.Fatalf("handshake refused with status %d", status)
	}
	return c
}

// waitClosed reads from c until the server closes it.
func waitClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept the connection open")
		}
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func frameHeader(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}

// A client that forges a peer handshake and announces 2 GiB frames has
// its connections closed, and the member's memory does not follow the
// announced sizes: on a stream connection the bound refuses the header
// at once; on a snapshot connection, where 2 GiB is within the bound,
// the payload is read as it arrives and the silent connection is closed
// at the idle timeout.
func TestTCPForgedFramesDoNotAllocate(t *testing.T) {
	const conns = 100
	ln := listen(t)
	r := newFakeRaft()
	tr := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: ln, Raft: r,
		IdleTimeout: 2 * time.Second,
		Peers:       map[uint64][]string{1: {"http://127.0.0.1:1"}}})
	f := forger{t: t, addr: ln.Addr().String()}
	base := heapAlloc()

	for range conns {
		c := f.open(0, 7, 1, 2)
		if _, err := c.Write(frameHeader(2 << 30)); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, c)
		c.Close()
	}
	if got := tr.Stats().Rejected[transport.RejectTooLarge]; got != conns {
		t.Fatalf("rejected %d stream connections as too large, want %d", got, conns)
	}
	grown := int64(heapAlloc()) - int64(base)
	t.Logf("heap after %d stream connections announcing 2 GiB: %+d bytes", conns, grown)
	if grown > 4<<20 {
		t.Fatalf("heap grew by %d bytes", grown)
	}

	held := make([]net.Conn, conns)
	for i := range held {
		held[i] = f.open(1, 7, 1, 2)
		if _, err := held[i].Write(append(frameHeader(2<<30), make([]byte, 1<<10)...)); err != nil {
			t.Fatal(err)
		}
	}
	// Each held connection costs its read buffers, not what it announced.
	perConn := 256 << 10
	grown = int64(heapAlloc()) - int64(base)
	t.Logf("heap with %d snapshot connections announcing 2 GiB held open: %+d bytes", conns, grown)
	if grown > int64(conns*perConn) {
		t.Fatalf("heap grew by %d bytes, more than %d per connection", grown, perConn)
	}
	for _, c := range held {
		waitClosed(t, c)
		c.Close()
	}
	poll(t, "idle connections counted", func() bool { return tr.Stats().Rejected[transport.RejectIdle] == conns })
	if r.count() != 0 {
		t.Fatalf("%d forged messages reached raft", r.count())
	}
}

// A frame that is not a raft message, a message that names other members
// than the handshake did, and a snapshot on a stream connection each
// close their connection and are counted under their reason.
func TestTCPRejectsBadFrames(t *testing.T) {
	encode := func(m *raftpb.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return append(frameHeader(uint32(len(b))), b...)
	}
	tests := []struct {
		name   string
		kind   uint16
		frame  []byte
		reason string
	}{
		{"garbage", 0, append(frameHeader(3), 0xff, 0xff, 0xff), transport.RejectMalformed},
		{"other-sender", 0, encode(app(3, 2, 1, nil)), transport.RejectMisrouted},
		{"other-receiver", 0, encode(app(1, 4, 1, nil)), transport.RejectMisrouted},
		{"snapshot-on-stream", 0, encode(snapMsg(1, 2, []byte("db"))), transport.RejectMalformed},
		{"append-on-snapshot", 1, encode(app(1, 2, 1, nil)), transport.RejectMalformed},
		{"too-large", 0, frameHeader(transport.DefaultMaxMessageBytes + 1), transport.RejectTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			r := newFakeRaft()
			tr := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: ln, Raft: r,
				Peers: map[uint64][]string{1: {"http://127.0.0.1:1"}}})
			c := forger{t: t, addr: ln.Addr().String()}.open(tt.kind, 7, 1, 2)
			defer c.Close()
			if _, err := c.Write(tt.frame); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, c)
			poll(t, "the rejection counted", func() bool { return tr.Stats().Rejected[tt.reason] == 1 })
			if r.count() != 0 {
				t.Fatalf("%d messages reached raft", r.count())
			}
		})
	}
}

// A connection that never completes its handshake is closed at the dial
// timeout and counted.
func TestTCPHandshakeDeadline(t *testing.T) {
	ln := listen(t)
	tr := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: ln, Raft: newFakeRaft(), DialTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ADRT")); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c)
	poll(t, "the handshake counted", func() bool { return tr.Stats().Rejected[transport.RejectHandshake] == 1 })
}

// Members with nothing to say keep their connections with keep-alives,
// and are not closed as idle.
func TestTCPKeepAlivesHoldIdleConnections(t *testing.T) {
	lnA, lnB := listen(t), listen(t)
	// Long enough that a loaded machine does not delay a keep-alive
	// past it.
	const idle = time.Second
	ra, rb := newFakeRaft(), newFakeRaft()
	a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: ra, IdleTimeout: idle,
		Peers: map[uint64][]string{2: {url(lnB)}}})
	b := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: rb, IdleTimeout: idle,
		Peers: map[uint64][]string{1: {url(lnA)}}})
	a.Send([]*raftpb.Message{app(1, 2, 1, nil)})
	waitFor(t, rb, "the first message", func() bool { return rb.count() == 1 })
	// Seven keep-alives take more than two idle timeouts.
	poll(t, "keep-alives", func() bool { return b.Stats().Peers[1].KeepAlivesReceived >= 7 })
	if got := b.Stats().Rejected[transport.RejectIdle]; got != 0 {
		t.Fatalf("%d connections closed as idle", got)
	}
	if got := a.Stats().Peers[2].Connects; got != 1 {
		t.Fatalf("member 1 connected %d times, want once", got)
	}
}
