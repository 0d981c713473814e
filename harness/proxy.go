package harness

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LinkDelay is what a Proxy adds to every byte, in each direction: a fixed
// one-way delay plus a uniform jitter in [-Jitter, +Jitter] (never below
// zero in total, and never reordering bytes).
type LinkDelay struct {
	Delay  time.Duration
	Jitter time.Duration
}

// proxyChunkQueue is how many read chunks one direction of a connection
// may hold in flight. At 32 KiB a chunk that is far more than a 2-core
// loopback cluster can send in any sensible delay, so the queue adds
// latency as a long wire does and does not cap bandwidth; a full queue
// pushes back on the sender through TCP flow control, as a real link would.
const proxyChunkQueue = 4096

const proxyReadBuffer = 32 << 10

// Proxy forwards TCP connections accepted on its listener to one target
// address, delaying the bytes of each direction by LinkDelay. It is a delay
// line, not a rate limiter: each chunk read is stamped with the time it
// falls due and written out then, while later chunks are already being read,
// so a 5 ms delay costs 5 ms of latency and no throughput. Byte order per
// connection is kept: a chunk never falls due before the one read ahead of
// it, so jitter stretches gaps between chunks but never reorders them.
//
// Only bytes are delayed: connection set-up is not, so a new connection
// costs no extra round trip. Members keep their peer connections open, so
// this matters only for the first messages after a (re)start.
//
// Random loss is not offered: dropping some bytes would break the TCP
// stream, and a user-space proxy cannot make the kernel retransmit, so any
// loss it claimed to inject would be a fiction. What it offers instead is
// a cut (Cut): every byte of one direction of a link is dropped, as a
// partition or a one-way blackhole drops every packet.
//
// # Cuts
//
// The proxy fronts one member, so the connections it accepts all go to
// that member; it learns from each connection's first bytes which member
// dialled (see peersource.go), and so which link, and which direction of
// it, each byte travels: the dialler's bytes go from the dialler to the
// fronted member, the answers from the fronted member to the dialler.
// While a direction is cut its bytes are read and dropped when they fall
// due (bytes in the delay line are lost too, as on the wire), so the
// sender sees no error, only silence. A connection that lost bytes is
// closed once its direction flows again, since the stream it carries has
// a hole: both members then dial anew, as after a long partition.
//
// A one-way cut is one-way for the connections open when it starts: both
// servers keep a stream per direction open (ours dialled by the sender,
// etcd's stream GETs dialled by the receiver), and what flows the other
// way keeps flowing. A connection opened during the cut needs its
// handshake or request answered across the cut direction, so it does not
// open, as TCP does not under one-way packet loss.
type Proxy struct {
	ln     net.Listener
	target string
	delay  LinkDelay

	mu     sync.Mutex
	conns  map[net.Conn]struct{}   // both ends of every open connection
	links  map[*proxyConn]struct{} // every open connection
	closed bool
	wg     sync.WaitGroup

	cuts atomic.Pointer[proxyCuts]

	seeds    atomic.Uint64 // one jitter stream per direction
	accepted atomic.Uint64
	bytes    atomic.Uint64
	dropped  atomic.Uint64
}

// ProxyStats counts what a Proxy carried.
type ProxyStats struct {
	Conns   uint64 // connections accepted
	Bytes   uint64 // bytes forwarded, both directions
	Dropped uint64 // bytes dropped by cuts, both directions
}

// Directions of a proxied connection.
const (
	dirUp   = 0 // from the dialler to the fronted member
	dirDown = 1 // from the fronted member to the dialler
)

// proxyCuts are the cut directions of a proxy's links, by the member id of
// the member at the other end; immutable once stored.
type proxyCuts struct {
	in  map[uint64]bool // that member's bytes to the fronted member are dropped
	out map[uint64]bool // the fronted member's bytes to that member are dropped
}

// drops reports whether bytes in direction dir of a connection from
// member src are dropped. A connection that named no member (src 0) is
// never cut: it carries no raft messages.
func (c *proxyCuts) drops(dir int, src uint64) bool {
	if c == nil || src == 0 {
		return false
	}
	if dir == dirUp {
		return c.in[src]
	}
	return c.out[src]
}

// proxyConn is one proxied connection: the dialler's end, the end towards
// the fronted member, and what the proxy learned about it.
type proxyConn struct {
	client, server net.Conn
	src            atomic.Uint64 // the dialler's member id, 0 until known
	lost           [2]atomic.Bool
	abort          func()
}

// ListenProxy listens on addr ("127.0.0.1:0" picks a port) and forwards to
// target with d added in each direction.
func ListenProxy(addr, target string, d LinkDelay) (*Proxy, error) {
	if d.Delay < 0 || d.Jitter < 0 {
		return nil, fmt.Errorf("%w: proxy delay %v, jitter %v", ErrConfig, d.Delay, d.Jitter)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: proxy listen %s: %w", ErrTarget, addr, err)
	}
	p := &Proxy{ln: ln, target: target, delay: d, conns: map[net.Conn]struct{}{}, links: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// proxyFront returns a proccluster PeerFront that puts a Proxy adding d on
// loopback in front of each member's peer address.
func proxyFront(d LinkDelay) func(addr string) (string, io.Closer, error) {
	return func(addr string) (string, io.Closer, error) {
		p, err := ListenProxy("127.0.0.1:0", addr, d)
		if err != nil {
			return "", nil, err
		}
		return p.Addr(), p, nil
	}
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Stats returns what the proxy carried so far.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{Conns: p.accepted.Load(), Bytes: p.bytes.Load(), Dropped: p.dropped.Load()}
}

// Cut sets which directions of the fronted member's peer links drop their
// bytes, by member id: in names the members whose bytes to the fronted
// member are dropped, out the members the fronted member's bytes to are
// dropped. Cut(nil, nil) restores every link. It replaces the previous
// cuts, applies at once to open connections, and closes every connection
// that lost bytes on a direction that flows again.
func (p *Proxy) Cut(in, out []uint64) {
	c := &proxyCuts{in: map[uint64]bool{}, out: map[uint64]bool{}}
	for _, id := range in {
		c.in[id] = true
	}
	for _, id := range out {
		c.out[id] = true
	}
	p.cuts.Store(c)
	p.mu.Lock()
	links := make([]*proxyConn, 0, len(p.links))
	for pc := range p.links {
		links = append(links, pc)
	}
	p.mu.Unlock()
	for _, pc := range links {
		pc.reopenIfHealed(c)
	}
}

// reopenIfHealed closes the connection when a direction that lost bytes
// flows under cuts c. Both Cut (after storing new cuts) and a pipe (after
// dropping) call it, so a connection with a hole never carries bytes
// again, whichever sees the change first.
func (pc *proxyConn) reopenIfHealed(c *proxyCuts) {
	src := pc.src.Load()
	for dir := range pc.lost {
		if pc.lost[dir].Load() && !c.drops(dir, src) {
			pc.abort()
			return
		}
	}
}

// Close stops accepting, drops every open connection (bytes still in the
// delay line are lost, as on a cut cable) and waits for its goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// track registers c so Close can drop it; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed; a loopback listener fails for no other reason
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects c to the target and runs both directions. A target that
// refuses shows to the dialer as a connection closed at once, which is how
// a peer that is down looks through any forwarder.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	t, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(t) {
		if t != nil {
			t.Close()
		}
		c.Close()
		p.untrack(c)
		return
	}
	var once sync.Once
	pc := &proxyConn{client: c, server: t}
	pc.abort = func() {
		once.Do(func() {
			c.Close()
			t.Close()
		})
	}
	p.mu.Lock()
	p.links[pc] = struct{}{}
	p.mu.Unlock()
	var dirs sync.WaitGroup
	dirs.Add(2)
	go func() { defer dirs.Done(); p.pipe(pc, dirUp) }()
	go func() { defer dirs.Done(); p.pipe(pc, dirDown) }()
	dirs.Wait()
	pc.abort()
	p.mu.Lock()
	delete(p.links, pc)
	p.mu.Unlock()
	p.untrack(c, t)
}

type chunk struct {
	b   []byte
	due time.Time
}

// delayLine reads src into q, each chunk stamped with when it is due: the
// delay, plus jitter, after it was read, and never before the chunk ahead
// of it, so a stream keeps its order. It closes q when src fails, after
// sending the failure (io.EOF for a clean end) to readErr. When sniff is
// set (the dialler's direction), bytes are held until the sender's member
// id is known, and the id is recorded in pc.
func (p *Proxy) delayLine(pc *proxyConn, src net.Conn, sniff bool, q chan<- chunk, readErr chan<- error) {
	defer close(q)
	rng := rand.New(rand.NewPCG(p.seeds.Add(1), uint64(time.Now().UnixNano())))
	buf := make([]byte, proxyReadBuffer)
	var (
		last time.Time
		sn   sourceSniffer
	)
	send := func(b []byte) {
		if len(b) == 0 {
			return
		}
		due := time.Now().Add(p.delay.Delay)
		if j := p.delay.Jitter; j > 0 {
			due = due.Add(time.Duration(rng.Int64N(2*int64(j)+1)) - j)
		}
		if due.Before(last) {
			due = last
		}
		last = due
		q <- chunk{b: append([]byte(nil), b...), due: due}
	}
	for {
		n, err := src.Read(buf)
		b := buf[:n]
		if sniff && n > 0 {
			var id uint64
			if b, id = sn.feed(b); id != 0 {
				pc.src.Store(id)
			}
		}
		send(b)
		if err != nil {
			if sniff {
				send(sn.flush())
			}
			readErr <- err
			return
		}
	}
}

// pipe copies one direction of pc through the delay line, dropping what
// falls due while the direction is cut. A clean end of the source (EOF)
// is passed on as a half close once the delayed bytes are out; any other
// failure aborts the whole connection, as a reset would.
func (p *Proxy) pipe(pc *proxyConn, dir int) {
	dst, src := pc.server, pc.client
	if dir == dirDown {
		dst, src = pc.client, pc.server
	}
	abort := pc.abort
	q := make(chan chunk, proxyChunkQueue)
	readErr := make(chan error, 1)
	go p.delayLine(pc, src, dir == dirUp, q, readErr)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		out     net.Buffers
		pending *chunk // read ahead of its time while batching
		open    = true
	)
	for open {
		var ck chunk
		if pending != nil {
			ck, pending = *pending, nil
		} else if ck, open = <-q; !open {
			break
		}
		if wait := time.Until(ck.due); wait > 0 {
			timer.Reset(wait)
			<-timer.C
		}
		// Everything else already due goes out in the same write, so a
		// burst of small messages costs one system call, not one each.
		out = append(out[:0], ck.b)
		n := len(ck.b)
	batch:
		for {
			select {
			case next, ok := <-q:
				if !ok {
					open = false
					break batch
				}
				if time.Now().Before(next.due) {
					pending = &next
					break batch
				}
				out = append(out, next.b)
				n += len(next.b)
			default:
				break batch
			}
		}
		if cuts := p.cuts.Load(); cuts.drops(dir, pc.src.Load()) {
			pc.lost[dir].Store(true)
			p.dropped.Add(uint64(n))
			// Cut may have restored the direction since the check.
			pc.reopenIfHealed(p.cuts.Load())
			continue
		}
		if _, err := out.WriteTo(dst); err != nil {
			abort()
			for range q {
				// drain so the reader, now failing on the closed conn, ends
			}
			return
		}
		p.bytes.Add(uint64(n))
	}
	if err := <-readErr; !errors.Is(err, io.EOF) {
		abort()
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		if tc.CloseWrite() != nil {
			abort()
		}
	}
}
