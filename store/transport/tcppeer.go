package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// peer is the outbound side of one TCP link: its outbox and the writer
// goroutine that keeps a connection to the peer and drains the outbox
// into it.
type peer struct {
	t      *TCP
	id     uint64
	out    *outbox
	c      *counters
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc

	mu    sync.Mutex
	addrs []string
	next  int // which addr to dial next
	// conns maps each open connection handed out (a TLS one with peer
	// TLS) to the TCP connection under it, which stop and release close:
	// closing it does not wait on a TLS close alert.
	conns map[net.Conn]net.Conn
}

func newPeer(t *TCP, id uint64, addrs []string, c *counters) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	return &peer{
		t:      t,
		id:     id,
		out:    newOutbox(t.cfg.ID, id, t.cfg.Raft, c, t.cfg.QueueSize),
		c:      c,
		ctx:    ctx,
		cancel: cancel,
		addrs:  addrs,
		conns:  make(map[net.Conn]net.Conn),
	}
}

func (p *peer) setAddrs(addrs []string) {
	p.mu.Lock()
	p.addrs = addrs
	p.next = 0
	p.mu.Unlock()
}

// stop makes run, the delay line and snapshot senders return, closing
// the connections so a blocked write returns at once.
func (p *peer) stop() {
	p.cancel()
	p.mu.Lock()
	for _, raw := range p.conns {
		_ = raw.Close()
	}
	p.mu.Unlock()
}

// track records c, which runs over raw, so stop can close it, and
// refuses it if stop has already run.
func (p *peer) track(c, raw net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.conns[c] = raw
	return true
}

// release closes a connection dial returned.
func (p *peer) release(c net.Conn) {
	p.mu.Lock()
	raw := p.conns[c]
	delete(p.conns, c)
	p.mu.Unlock()
	if raw == nil {
		raw = c
	}
	_ = raw.Close()
}

// run connects, streams until the connection fails, and reconnects with
// exponential backoff, until stopped. While it cannot connect it drops
// what is queued and reports the peer unreachable, so raft backs off
// (probes) instead of its messages going stale in the queue.
func (p *peer) run() {
	cfg := &p.t.cfg
	backoff := cfg.BackoffMin
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		conn, err := p.dial(kindStream)
		if p.ctx.Err() != nil {
			if conn != nil {
				p.release(conn)
			}
			return
		}
		if err == nil {
			backoff = cfg.BackoffMin
			p.c.connects.Add(1)
			err = p.stream(conn)
			p.release(conn)
			if p.ctx.Err() != nil {
				return
			}
			// The connection broke. Wait the shortest backoff before
			// redialling, so a peer that accepts and then drops us
			// cannot make this loop spin.
		}
		p.c.setErr(err)
		p.t.reportErr(p.id, err)
		p.out.drainDropped()
		timer.Reset(backoff)
	wait:
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-timer.C:
				break wait
			case m := <-p.out.q:
				p.out.drainDropped(m)
			}
		}
		backoff = min(2*backoff, cfg.BackoffMax)
	}
}

// dial connects to the next of the peer's addresses and performs the
// dialler's side of the handshake for a connection of kind. The caller
// must release the connection.
func (p *peer) dial(kind uint16) (net.Conn, error) {
	cfg := &p.t.cfg
	p.mu.Lock()
	addr := p.addrs[p.next%len(p.addrs)]
	p.next++
	p.mu.Unlock()

	d := net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second}
	conn, err := d.DialContext(p.ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial member %d at %s: %w", p.id, addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Go sets this by default; say so here, since a raft
		// heartbeat held back by Nagle costs a round trip.
		_ = tc.SetNoDelay(true)
	}
	if !p.track(conn, conn) {
		_ = conn.Close()
		return nil, ErrClosed
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.DialTimeout))
	if cfg.ClientTLS != nil {
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(conn, cfg.ClientTLS(host))
		if err := tc.HandshakeContext(p.ctx); err != nil {
			p.release(conn)
			return nil, fmt.Errorf("%w: TLS with member %d at %s: %w", ErrHandshake, p.id, addr, err)
		}
		p.mu.Lock()
		delete(p.conns, conn)
		p.mu.Unlock()
		if !p.track(tc, conn) {
			_ = conn.Close()
			return nil, ErrClosed
		}
		conn = tc
	}
	err = writeHello(conn, hello{version: version, kind: kind, cluster: cfg.ClusterID, from: cfg.ID, to: p.id})
	var rp reply
	if err == nil {
		rp, err = readReply(conn)
	}
	if err == nil {
		err = judgeReply(rp, cfg.ClusterID, cfg.ID, p.id)
	}
	if err != nil {
		p.release(conn)
		return nil, fmt.Errorf("%w: member %d at %s: %w", ErrHandshake, p.id, addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// streamBufSize is the write buffer of a peer stream: large enough that
// a burst of small messages leaves in few syscalls.
const streamBufSize = 64 << 10

// stream writes queued messages to conn until a write fails or the peer
// is stopped. It flushes only when the queue is empty, so a burst is
// coalesced into as few writes as the buffer allows. Snapshots are handed
// to sendSnapshot instead, so a large one does not hold up heartbeats
// and appends behind it. While the queue stays empty it writes a
// keep-alive (a frame of length 0) every IdleTimeout/3, so that the peer,
// which closes connections silent for IdleTimeout, keeps this one.
func (p *peer) stream(conn net.Conn) error {
	bw := bufio.NewWriterSize(conn, streamBufSize)
	var frame []byte
	var keepAlive [frameHdrSize]byte
	ka := time.NewTicker(p.t.cfg.IdleTimeout / 3)
	defer ka.Stop()
	fail := func(m *raftpb.Message, err error) error {
		err = fmt.Errorf("transport: writing to member %d: %w", p.id, err)
		// Recorded before raft hears, so Stats explains the report.
		p.c.setErr(err)
		if m != nil {
			p.out.reportDropped([]*raftpb.Message{m})
		} else {
			p.out.r.ReportUnreachable(p.id)
		}
		return err
	}
	for {
		var m *raftpb.Message
		select {
		case m = <-p.out.q:
		default:
			if bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					return fail(nil, err)
				}
			}
			select {
			case m = <-p.out.q:
			case <-p.ctx.Done():
				return nil
			case <-ka.C:
				_, err := bw.Write(keepAlive[:])
				if err == nil {
					err = bw.Flush()
				}
				if err != nil {
					return fail(nil, err)
				}
				continue
			}
		}
		if isSnap(m) {
			p.sendSnapshot(m)
			continue
		}
		var err error
		if frame, err = appendFrame(frame, m, p.t.cfg.MaxMessageBytes); err != nil {
			p.dropUnsendable(m, err)
			continue
		}
		if _, err := bw.Write(frame); err != nil {
			return fail(m, err)
		}
		p.c.msgsSent.Add(1)
		p.c.bytesSent.Add(uint64(len(frame)))
	}
}

// dropUnsendable drops a message that can never be sent (too large, or
// not encodable); the connection it was meant for is still fine.
func (p *peer) dropUnsendable(m *raftpb.Message, err error) {
	p.c.setErr(err)
	p.t.reportErr(p.id, err)
	p.out.reportDropped([]*raftpb.Message{m})
}

// sendSnapshot writes a MsgSnap on a connection of its own, in the
// background, and reports how that ended. This is what etcd does too: a
// snapshot can be the whole state machine, and on the shared stream it
// would hold up heartbeats long enough for the follower to start an
// election. The snapshot may therefore overtake or trail messages sent
// around it, which raft tolerates (it pauses appends to a follower while
// a snapshot is in flight). The receiver needs nothing special: it is one
// more connection carrying one frame.
func (p *peer) sendSnapshot(m *raftpb.Message) {
	// The writer goroutine calling this is itself counted in wg, so
	// Close cannot be past Wait yet.
	p.t.wg.Add(1)
	go func() {
		defer p.t.wg.Done()
		n, err := p.writeSnapshot(m)
		if err != nil {
			p.c.setErr(err)
			p.t.reportErr(p.id, err)
			p.out.reportDropped([]*raftpb.Message{m})
			return
		}
		p.c.msgsSent.Add(1)
		p.c.bytesSent.Add(uint64(n))
		p.out.r.ReportSnapshot(p.id, raft.SnapshotFinish)
	}()
}

// writeSnapshot dials, writes m as one frame and closes the connection
// once every byte has been handed to the kernel.
func (p *peer) writeSnapshot(m *raftpb.Message) (int, error) {
	frame, err := appendFrame(nil, m, p.t.cfg.MaxSnapshotBytes)
	if err != nil {
		return 0, err
	}
	conn, err := p.dial(kindSnapshot)
	if err != nil {
		return 0, fmt.Errorf("transport: snapshot to member %d: %w", p.id, err)
	}
	defer p.release(conn)
	if _, err := conn.Write(frame); err != nil {
		return 0, fmt.Errorf("transport: snapshot to member %d: %w", p.id, err)
	}
	return len(frame), nil
}
