package transport

import (
	"bufio"
	"context"
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
	next  int      // which addr to dial next
	conn  net.Conn // the current connection, closed by stop
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
	}
}

func (p *peer) setAddrs(addrs []string) {
	p.mu.Lock()
	p.addrs = addrs
	p.next = 0
	p.mu.Unlock()
}

// stop makes run and the delay line return, closing the connection so a
// blocked write returns at once.
func (p *peer) stop() {
	p.cancel()
	p.mu.Lock()
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.mu.Unlock()
}

// setConn records the connection so stop can close it, and refuses it if
// stop has already run.
func (p *peer) setConn(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.conn = c
	return true
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
		conn, err := p.dial()
		if p.ctx.Err() != nil {
			if conn != nil {
				_ = conn.Close()
			}
			return
		}
		if err == nil {
			backoff = cfg.BackoffMin
			p.c.connects.Add(1)
			err = p.stream(conn)
			_ = conn.Close()
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
// dialler's side of the handshake.
func (p *peer) dial() (net.Conn, error) {
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
	if !p.setConn(conn) {
		_ = conn.Close()
		return nil, ErrClosed
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.DialTimeout))
	err = writeHello(conn, hello{version: version, cluster: cfg.ClusterID, from: cfg.ID, to: p.id})
	var rp reply
	if err == nil {
		rp, err = readReply(conn)
	}
	if err == nil {
		err = judgeReply(rp, cfg.ClusterID, cfg.ID, p.id)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: member %d at %s: %w", ErrHandshake, p.id, addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// streamBufSize is the write buffer of a peer stream: large enough that
// a burst of small messages leaves in few syscalls.
const streamBufSize = 64 << 10

// keepFrame is the largest encode buffer kept between messages.
const keepFrame = 4 << 20

// stream writes queued messages to conn until a write fails or the peer
// is stopped. It flushes only when the queue is empty, so a burst is
// coalesced into as few writes as the buffer allows. A MsgSnap is
// reported finished once a flush that includes all of it succeeds.
func (p *peer) stream(conn net.Conn) error {
	bw := bufio.NewWriterSize(conn, streamBufSize)
	limit := p.t.cfg.MaxMessageBytes
	var (
		frame []byte
		snaps int // MsgSnaps written since the last flush
	)
	fail := func(m *raftpb.Message, err error) error {
		if m != nil {
			p.out.reportDropped([]*raftpb.Message{m})
		} else {
			p.out.r.ReportUnreachable(p.id)
		}
		for range snaps {
			p.out.r.ReportSnapshot(p.id, raft.SnapshotFailure)
		}
		return fmt.Errorf("transport: writing to member %d: %w", p.id, err)
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
			for ; snaps > 0; snaps-- {
				p.out.r.ReportSnapshot(p.id, raft.SnapshotFinish)
			}
			select {
			case m = <-p.out.q:
			case <-p.ctx.Done():
				return nil
			}
		}
		var err error
		frame, err = appendFrame(frame, m, limit)
		if err != nil {
			// This message cannot be sent; the stream is still fine.
			p.c.setErr(err)
			p.t.reportErr(p.id, err)
			p.out.reportDropped([]*raftpb.Message{m})
			continue
		}
		if _, err := bw.Write(frame); err != nil {
			return fail(m, err)
		}
		p.c.msgsSent.Add(1)
		p.c.bytesSent.Add(uint64(len(frame)))
		if isSnap(m) {
			snaps++
		}
		if cap(frame) > keepFrame {
			frame = nil
		}
	}
}
