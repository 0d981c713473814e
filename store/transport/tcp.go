package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// TCPConfig configures a TCP transport. Zero fields take the values of
// DefaultTCPConfig, except ID, ClusterID, Raft and the listen address.
type TCPConfig struct {
	ID        uint64 // this member's id
	ClusterID uint64 // both ends of a connection must agree on it

	// Listener accepts peers' connections; the transport owns it and
	// closes it on Close. If nil, ListenURL is listened on.
	Listener net.Listener
	// ListenURL is like etcd's --listen-peer-urls entry,
	// "http://127.0.0.1:2380" ("https://" with ServerTLS); the scheme is
	// accepted for compatibility with etcd's flags, but the port speaks
	// this package's own framing.
	ListenURL string

	// ServerTLS, if set, makes every accepted connection complete a TLS
	// handshake with it (within DialTimeout) before anything else is
	// read; a handshake that fails is counted as RejectTLS. With a client
	// certificate required, only peers holding an accepted certificate
	// get as far as the hello.
	ServerTLS *tls.Config
	// ClientTLS, if set, makes the transport dial peers with TLS: it
	// returns the configuration for a connection to host (the host of a
	// peer URL, which the peer's certificate must be valid for). Peer
	// URLs must then be https://; without it, http:// or tcp://.
	ClientTLS func(host string) *tls.Config

	// Peers maps each other member's id to its peer URLs.
	Peers map[uint64][]string
	Raft  Raft

	// MaxMessageBytes caps one encoded message on a stream connection,
	// both ways (see frame.go and MessageBound).
	MaxMessageBytes int64
	// MaxSnapshotBytes caps one encoded MsgSnap, which travels on a
	// connection of its own.
	MaxSnapshotBytes int64
	// IdleTimeout closes an accepted connection on which nothing arrived
	// for that long, mid-frame or between frames; a dialler with nothing
	// to send writes a keep-alive every IdleTimeout/3.
	IdleTimeout time.Duration
	// QueueSize is each peer's outbound queue, in messages.
	QueueSize int
	// DialTimeout bounds a connection attempt, handshake included, both
	// ways: an accepted connection that has not completed its handshake
	// by then is closed.
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between failed connection
	// attempts to one peer; it doubles from min to max.
	BackoffMin, BackoffMax time.Duration
	// OnError, if set, is told about connection failures and refused
	// handshakes, with the peer they concern (0 if unknown). It is called
	// from the transport's goroutines and must not block.
	OnError func(peer uint64, err error)
}

// DefaultTCPConfig returns the tunables etcd uses where it has one: a
// 4096-message queue per peer stream and a 1 s dial timeout.
func DefaultTCPConfig() TCPConfig {
	return TCPConfig{
		MaxMessageBytes:  DefaultMaxMessageBytes,
		MaxSnapshotBytes: DefaultMaxSnapshotBytes,
		IdleTimeout:      DefaultIdleTimeout,
		QueueSize:        4096,
		DialTimeout:      time.Second,
		BackoffMin:       20 * time.Millisecond,
		BackoffMax:       time.Second,
	}
}

// withDefaults fills zero tunables from DefaultTCPConfig.
func (c TCPConfig) withDefaults() TCPConfig {
	d := DefaultTCPConfig()
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxSnapshotBytes == 0 {
		c.MaxSnapshotBytes = d.MaxSnapshotBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = d.BackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(d.BackoffMax, c.BackoffMin)
	}
	return c
}

// Validate names the first bad field of c (after defaults are applied).
func (c TCPConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ID == 0:
		return bad("ID must not be 0 (raft reserves it)")
	case c.Raft == nil:
		return bad("Raft is nil")
	case c.Listener == nil && c.ListenURL == "":
		return bad("neither Listener nor ListenURL is set")
	case c.MaxMessageBytes < 0 || c.MaxMessageBytes > MaxFrameBytes:
		return bad("MaxMessageBytes %d is not in [1, %d]", c.MaxMessageBytes, int64(MaxFrameBytes))
	case c.MaxSnapshotBytes < 0 || c.MaxSnapshotBytes > MaxFrameBytes:
		return bad("MaxSnapshotBytes %d is not in [1, %d]", c.MaxSnapshotBytes, int64(MaxFrameBytes))
	case c.IdleTimeout < 0:
		return bad("IdleTimeout %v is negative", c.IdleTimeout)
	case c.QueueSize < 0:
		return bad("QueueSize %d is negative", c.QueueSize)
	case c.DialTimeout < 0:
		return bad("DialTimeout %v is negative", c.DialTimeout)
	case c.BackoffMin < 0 || c.BackoffMax < c.BackoffMin:
		return bad("BackoffMin %v and BackoffMax %v are not 0 <= min <= max", c.BackoffMin, c.BackoffMax)
	}
	for id, urls := range c.Peers {
		if id == c.ID {
			return bad("Peers[%d]: %v", id, ErrSelf)
		}
		if _, err := hostPorts(urls, c.ClientTLS != nil); err != nil {
			return fmt.Errorf("%w: Peers[%d]: %w", ErrInvalidConfig, id, err)
		}
	}
	if c.Listener == nil {
		if _, err := hostPort(c.ListenURL, c.ServerTLS != nil); err != nil {
			return fmt.Errorf("%w: ListenURL: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// hostPort turns a peer URL into a dialable host:port. With TLS the
// scheme must be https, without it http or tcp: speaking plain text to a
// TLS port, or the other way round, would only fail later and less
// clearly.
func hostPort(raw string, secure bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, raw, err)
	}
	switch {
	case secure && u.Scheme != "https":
		return "", fmt.Errorf("%w: %q: scheme %q with TLS (want https)", ErrBadURL, raw, u.Scheme)
	case !secure && u.Scheme != "http" && u.Scheme != "tcp":
		return "", fmt.Errorf("%w: %q: scheme %q without TLS (want http or tcp)", ErrBadURL, raw, u.Scheme)
	}
	if u.Port() == "" {
		return "", fmt.Errorf("%w: %q has no port", ErrBadURL, raw)
	}
	return u.Host, nil
}

func hostPorts(urls []string, secure bool) ([]string, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no urls", ErrBadURL)
	}
	out := make([]string, 0, len(urls))
	for _, raw := range urls {
		hp, err := hostPort(raw, secure)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	return out, nil
}

// TCP is the transport between members in different processes: one
// persistent, pipelined TCP stream per peer and direction.
type TCP struct {
	cfg    TCPConfig
	ln     net.Listener
	ctx    context.Context // cancelled by Close; handed to Raft.Process
	cancel context.CancelFunc
	wg     sync.WaitGroup

	unknownDrops atomic.Uint64
	rejected     rejectCounters

	mu      sync.Mutex
	closed  bool
	peers   map[uint64]*peer
	faults  map[uint64]LinkFault
	recv    map[uint64]*counters // inbound counters of members that are not (or no longer) peers
	inbound map[net.Conn]uint64  // accepted connections and their sender
}

var _ Transport = (*TCP)(nil)

// NewTCP starts a TCP transport: it listens, and starts a writer for each
// peer that connects (and reconnects) in the background.
func NewTCP(cfg TCPConfig) (*TCP, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		hp, _ := hostPort(cfg.ListenURL, cfg.ServerTLS != nil) // validated above
		var err error
		if ln, err = net.Listen("tcp", hp); err != nil {
			return nil, fmt.Errorf("transport: listen on %s: %w", cfg.ListenURL, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		cfg:     cfg,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		peers:   make(map[uint64]*peer),
		faults:  make(map[uint64]LinkFault),
		recv:    make(map[uint64]*counters),
		inbound: make(map[net.Conn]uint64),
	}
	for id, urls := range cfg.Peers {
		if err := t.AddPeer(id, urls); err != nil {
			_ = t.Close()
			return nil, err
		}
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr returns the address peers' connections are accepted on.
func (t *TCP) Addr() net.Addr { return t.ln.Addr() }

// Send implements Transport.
func (t *TCP) Send(msgs []*raftpb.Message) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	targets := make([]*outbox, len(msgs))
	for i, m := range msgs {
		if p := t.peers[m.GetTo()]; m != nil && p != nil {
			targets[i] = p.out
		}
	}
	t.mu.Unlock()
	sendGrouped(msgs, targets, &t.unknownDrops)
}

// AddPeer implements Transport.
func (t *TCP) AddPeer(id uint64, urls []string) error {
	if id == t.cfg.ID {
		return fmt.Errorf("transport: add peer %d: %w", id, ErrSelf)
	}
	if id == 0 {
		return fmt.Errorf("%w: add peer: id 0 is reserved by raft", ErrInvalidConfig)
	}
	addrs, err := hostPorts(urls, t.cfg.ClientTLS != nil)
	if err != nil {
		return fmt.Errorf("transport: add peer %d: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("transport: add peer %d: %w", id, ErrClosed)
	}
	if p, ok := t.peers[id]; ok {
		p.setAddrs(addrs)
		return nil
	}
	c := t.recv[id]
	if c == nil {
		c = &counters{}
	}
	delete(t.recv, id)
	p := newPeer(t, id, addrs, c)
	if f, ok := t.faults[id]; ok {
		p.out.setFault(f)
	}
	t.peers[id] = p
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		p.out.runDelayLine(p.ctx.Done())
	}()
	go func() {
		defer t.wg.Done()
		p.run()
	}()
	return nil
}

// RemovePeer implements Transport.
func (t *TCP) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	if p != nil {
		// Keep its counters: Stats still reports what was exchanged.
		t.recv[id] = p.c
	}
	var conns []net.Conn
	for c, from := range t.inbound {
		if from == id {
			conns = append(conns, c)
		}
	}
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// SetLinkFault implements Transport.
func (t *TCP) SetLinkFault(id uint64, f LinkFault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.IsZero() {
		delete(t.faults, id)
	} else {
		t.faults[id] = f
	}
	if p := t.peers[id]; p != nil {
		p.out.setFault(f)
	}
}

// Stats implements Transport.
func (t *TCP) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{
		Peers:            make(map[uint64]PeerStats, len(t.peers)+len(t.recv)),
		UnknownPeerDrops: t.unknownDrops.Load(),
		Rejected:         t.rejected.snapshot(),
	}
	for id, c := range t.recv {
		s.Peers[id] = c.snapshot()
	}
	for id, p := range t.peers {
		s.Peers[id] = p.c.snapshot()
	}
	return s
}

// Close implements Transport.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := t.peers
	t.peers = map[uint64]*peer{}
	for id, p := range peers {
		t.recv[id] = p.c // Stats still reports them after Close
	}
	conns := make([]net.Conn, 0, len(t.inbound))
	for c := range t.inbound {
		conns = append(conns, c)
	}
	t.mu.Unlock()

	t.cancel()
	err := t.ln.Close()
	for _, p := range peers {
		p.stop()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	t.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("transport: close listener: %w", err)
	}
	return nil
}

func (t *TCP) reportErr(peer uint64, err error) {
	if t.cfg.OnError != nil {
		t.cfg.OnError(peer, err)
	}
}

func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	backoff := t.cfg.BackoffMin
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, do not spin.
			t.reportErr(0, fmt.Errorf("transport: accept: %w", err))
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, t.cfg.BackoffMax)
			continue
		}
		backoff = t.cfg.BackoffMin
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = conn.Close()
			return
		}
		t.inbound[conn] = 0
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(conn)
	}
}

// serve runs one accepted connection: the handshake, then a loop that
// decodes frames and hands them to raft in order, on this goroutine. A
// snapshot connection carries one MsgSnap and is closed after it. Every
// read is bounded by IdleTimeout, so a peer that stops sending, mid-frame
// or between frames, loses its connection and the memory it holds.
func (t *TCP) serve(raw net.Conn) {
	defer t.wg.Done()
	// The TCP connection is what inbound and Close know; closing it does
	// not wait on a TLS close alert.
	defer func() {
		t.mu.Lock()
		delete(t.inbound, raw)
		t.mu.Unlock()
		_ = raw.Close()
	}()
	conn := raw
	if t.cfg.ServerTLS != nil {
		tc := tls.Server(raw, t.cfg.ServerTLS)
		_ = raw.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
		if err := tc.HandshakeContext(t.ctx); err != nil {
			if t.ctx.Err() == nil {
				t.rejected.add(RejectTLS)
				t.reportErr(0, fmt.Errorf("%w: TLS from %s: %w", ErrHandshake, raw.RemoteAddr(), err))
			}
			return
		}
		conn = tc
	}
	c, h, err := t.accept(conn, raw)
	if err != nil {
		if t.ctx.Err() == nil {
			t.rejected.add(RejectHandshake)
			t.reportErr(h.from, err)
		}
		return
	}
	from := h.from
	limit := t.cfg.MaxMessageBytes
	if h.kind == kindSnapshot {
		limit = t.cfg.MaxSnapshotBytes
	}
	fr := frameReader{r: bufio.NewReaderSize(idleReader{conn: conn, timeout: t.cfg.IdleTimeout}, 64<<10), limit: limit}
	for {
		m, n, err := fr.next()
		if err == nil && m == nil {
			c.keepAlivesReceived.Add(1)
			continue
		}
		if err == nil {
			err = checkFrame(m, h, t.cfg.ID)
		}
		if err != nil {
			if t.ctx.Err() == nil && !isEOF(err) {
				t.rejected.add(rejectReason(err))
				c.setErr(err)
				t.reportErr(from, fmt.Errorf("transport: reading from member %d: %w", from, err))
			}
			return
		}
		c.msgsReceived.Add(1)
		c.bytesReceived.Add(uint64(n))
		if err := t.cfg.Raft.Process(t.ctx, m); err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.reportErr(from, fmt.Errorf("transport: raft rejected %s from member %d: %w", m.GetType(), from, err))
		}
		if h.kind == kindSnapshot {
			return
		}
	}
}

// checkFrame refuses a message that does not belong on its connection:
// another sender or receiver than the handshake named, a MsgSnap on a
// stream connection, anything but a MsgSnap on a snapshot connection.
func checkFrame(m *raftpb.Message, h hello, self uint64) error {
	switch {
	case m.GetFrom() != h.from || m.GetTo() != self:
		return fmt.Errorf("%w: %s from %d to %d on the connection from %d to %d", ErrMisrouted, m.GetType(), m.GetFrom(), m.GetTo(), h.from, self)
	case isSnap(m) != (h.kind == kindSnapshot):
		return fmt.Errorf("%w: %s on a %s connection", ErrMalformed, m.GetType(), kindName(h.kind))
	}
	return nil
}

func kindName(k uint16) string {
	if k == kindSnapshot {
		return "snapshot"
	}
	return "stream"
}

// idleReader reads from conn with a deadline IdleTimeout ahead of each
// read.
type idleReader struct {
	conn    net.Conn
	timeout time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
		return 0, err
	}
	n, err := r.conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		err = fmt.Errorf("%w: nothing for %v: %w", ErrIdle, r.timeout, err)
	}
	return n, err
}

// accept performs the acceptor's side of the handshake on conn, which
// runs over raw, and returns the counters for the sender and its hello.
func (t *TCP) accept(conn, raw net.Conn) (*counters, hello, error) {
	_ = conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	h, err := readHello(conn)
	if err != nil {
		return nil, h, fmt.Errorf("%w: from %s: %w", ErrHandshake, conn.RemoteAddr(), err)
	}
	var c *counters
	status, why := judgeHello(h, t.cfg.ClusterID, t.cfg.ID, func(id uint64) bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		if p := t.peers[id]; p != nil {
			c = p.c
			t.inbound[raw] = id // so RemovePeer closes it
		}
		return c != nil
	})
	rp := reply{version: version, status: status, cluster: t.cfg.ClusterID, id: t.cfg.ID}
	if why != nil {
		rp.reason = why.Error()
	}
	if err := writeReply(conn, rp); err != nil && why == nil {
		why = err
	}
	if why != nil {
		return nil, h, fmt.Errorf("%w: from %s: %w", ErrHandshake, conn.RemoteAddr(), why)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, h, nil
}

func isEOF(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
