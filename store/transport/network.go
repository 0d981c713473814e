package transport

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// DefaultQueueSize is the outbound queue of each peer link, in messages:
// etcd's per-peer stream buffer.
const DefaultQueueSize = 4096

// Network connects members in one process, for tests and for the
// in-process benchmark target. Each direction of each pair of members is
// a link with the same semantics as a TCP stream: Send returns at once,
// a bounded queue per link, FIFO delivery by one goroutine per link,
// injected faults, and messages encoded and decoded on the way (so
// members share no memory and byte counts are real).
//
// A member reaches every member that has joined the network, except
// peers it has removed with RemovePeer (AddPeer undoes that; its URLs are
// ignored). A message to a member that has not joined, or has closed,
// is dropped and reported unreachable, as a refused connection is.
type Network struct {
	queueSize int

	mu sync.Mutex // serialises writers of the copy-on-write maps below
	// members and cuts are read on every delivery and every send, so
	// they are immutable maps swapped whole rather than guarded by a
	// lock every link would share.
	members atomic.Pointer[map[uint64]*endpoint]
	cuts    atomic.Pointer[map[linkKey]struct{}]
}

type linkKey struct{ from, to uint64 }

// NewNetwork returns an empty network with DefaultQueueSize per link.
func NewNetwork() *Network {
	return NewNetworkSize(DefaultQueueSize)
}

// NewNetworkSize returns an empty network whose links queue up to
// queueSize messages (at least 1).
func NewNetworkSize(queueSize int) *Network {
	n := &Network{queueSize: max(queueSize, 1)}
	n.members.Store(&map[uint64]*endpoint{})
	n.cuts.Store(&map[linkKey]struct{}{})
	return n
}

// Join attaches member id, delivering to r, and returns its transport.
// Joining an id that is already joined replaces it: the old transport is
// closed first, as when a member process is killed and restarted.
func (n *Network) Join(id uint64, r Raft) Transport {
	ctx, cancel := context.WithCancel(context.Background())
	e := &endpoint{
		n:        n,
		id:       id,
		r:        r,
		ctx:      ctx,
		cancel:   cancel,
		links:    make(map[uint64]*link),
		removed:  make(map[uint64]bool),
		faults:   make(map[uint64]LinkFault),
		counters: make(map[uint64]*counters),
	}
	n.mu.Lock()
	old := (*n.members.Load())[id]
	n.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	n.mu.Lock()
	m := copyMap(*n.members.Load())
	m[id] = e
	n.members.Store(&m)
	n.mu.Unlock()
	return e
}

// Partition cuts both directions between a and b: messages sent across
// the cut from now on are lost (a MsgSnap is reported failed).
// Messages already on their way are delivered.
func (n *Network) Partition(a, b uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := copyMap(*n.cuts.Load())
	c[linkKey{a, b}] = struct{}{}
	c[linkKey{b, a}] = struct{}{}
	n.cuts.Store(&c)
}

// Isolate partitions id from every member joined now.
func (n *Network) Isolate(id uint64) {
	for other := range *n.members.Load() {
		if other != id {
			n.Partition(id, other)
		}
	}
}

// Heal removes every partition. Link faults set with SetLinkFault stay.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cuts.Store(&map[linkKey]struct{}{})
}

func (n *Network) isCut(from, to uint64) bool {
	_, cut := (*n.cuts.Load())[linkKey{from, to}]
	return cut
}

func (n *Network) member(id uint64) *endpoint { return (*n.members.Load())[id] }

func (n *Network) leave(e *endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if (*n.members.Load())[e.id] != e {
		return
	}
	m := copyMap(*n.members.Load())
	delete(m, e.id)
	n.members.Store(&m)
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// endpoint is one member's Transport on a Network.
type endpoint struct {
	n      *Network
	id     uint64
	r      Raft
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	unknownDrops atomic.Uint64

	mu       sync.Mutex
	closed   bool
	links    map[uint64]*link
	removed  map[uint64]bool
	faults   map[uint64]LinkFault
	counters map[uint64]*counters // per peer, both directions
}

var _ Transport = (*endpoint)(nil)

func (e *endpoint) Send(msgs []*raftpb.Message) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	targets := make([]*outbox, len(msgs))
	for i, m := range msgs {
		if m == nil {
			continue
		}
		if to := m.GetTo(); to != 0 && to != e.id && !e.removed[to] {
			targets[i] = e.linkLocked(to).out
		}
	}
	e.mu.Unlock()
	sendGrouped(msgs, targets, &e.unknownDrops)
}

// sendGrouped hands each msgs[i] to targets[i], batching consecutive
// messages for the same outbox; a nil target counts as an unknown peer.
func sendGrouped(msgs []*raftpb.Message, targets []*outbox, unknown *atomic.Uint64) {
	var (
		buf   [8]*raftpb.Message
		batch = buf[:0]
		cur   *outbox
	)
	for i, m := range msgs {
		if m == nil {
			continue
		}
		o := targets[i]
		if o == nil {
			unknown.Add(1)
			continue
		}
		if o != cur && len(batch) > 0 {
			cur.send(batch)
			batch = batch[:0]
		}
		cur = o
		batch = append(batch, m)
	}
	if len(batch) > 0 {
		cur.send(batch)
	}
}

func (e *endpoint) countersLocked(id uint64) *counters {
	c := e.counters[id]
	if c == nil {
		c = &counters{}
		e.counters[id] = c
	}
	return c
}

// linkLocked returns the link to member to, starting it if needed.
func (e *endpoint) linkLocked(to uint64) *link {
	if l := e.links[to]; l != nil {
		return l
	}
	ctx, cancel := context.WithCancel(e.ctx)
	l := &link{
		e:      e,
		to:     to,
		out:    newOutbox(e.id, to, e.r, e.countersLocked(to), e.n.queueSize),
		ctx:    ctx,
		cancel: cancel,
	}
	l.out.cut = func() bool { return e.n.isCut(e.id, to) }
	if f, ok := e.faults[to]; ok {
		l.out.setFault(f)
	}
	e.links[to] = l
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		l.out.runDelayLine(ctx.Done())
	}()
	go func() {
		defer e.wg.Done()
		l.run()
	}()
	return l
}

func (e *endpoint) AddPeer(id uint64, _ []string) error {
	if id == e.id {
		return fmt.Errorf("transport: add peer %d: %w", id, ErrSelf)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("transport: add peer %d: %w", id, ErrClosed)
	}
	delete(e.removed, id)
	return nil
}

func (e *endpoint) RemovePeer(id uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removed[id] = true
	if l := e.links[id]; l != nil {
		l.cancel()
		delete(e.links, id)
	}
}

func (e *endpoint) SetLinkFault(id uint64, f LinkFault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f.IsZero() {
		delete(e.faults, id)
	} else {
		e.faults[id] = f
	}
	if l := e.links[id]; l != nil {
		l.out.setFault(f)
	}
}

func (e *endpoint) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Peers: make(map[uint64]PeerStats, len(e.counters)), UnknownPeerDrops: e.unknownDrops.Load()}
	for id, c := range e.counters {
		s.Peers[id] = c.snapshot()
	}
	return s
}

func (e *endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.n.leave(e)
	e.cancel()
	e.wg.Wait()
	return nil
}

// recvCounters returns the counters for traffic from member from.
func (e *endpoint) recvCounters(from uint64) *counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.countersLocked(from)
}

// link is one direction between two endpoints: an outbox drained by a
// goroutine that delivers to the destination's Raft, in order.
type link struct {
	e      *endpoint
	to     uint64
	out    *outbox
	ctx    context.Context // cancelled by RemovePeer or the sender's Close
	cancel context.CancelFunc

	// The destination as last looked up, owned by run. destCtx ends when
	// either end closes, so a Process blocked on a slow receiver cannot
	// hold up the sender's Close.
	dest       *endpoint
	destCtx    context.Context
	destCancel context.CancelFunc
	destRecv   *counters
	buf        []byte
}

func (l *link) run() {
	defer l.unbind()
	for {
		select {
		case m := <-l.out.q:
			l.deliver(m)
		case <-l.ctx.Done():
			return
		}
	}
}

func (l *link) unbind() {
	if l.destCancel != nil {
		l.destCancel()
	}
	l.dest, l.destCtx, l.destCancel, l.destRecv = nil, nil, nil, nil
}

func (l *link) bind(dest *endpoint) {
	l.unbind()
	ctx, cancel := context.WithCancel(l.ctx)
	stop := context.AfterFunc(dest.ctx, cancel)
	l.dest, l.destCtx, l.destRecv = dest, ctx, dest.recvCounters(l.e.id)
	l.destCancel = func() {
		stop()
		cancel()
	}
}

func (l *link) deliver(m *raftpb.Message) {
	dest := l.e.n.member(l.to)
	if dest == nil || dest.ctx.Err() != nil {
		// Like a refused connection: drop all that is queued.
		l.out.drainDropped(m)
		return
	}
	if dest != l.dest {
		l.bind(dest)
	}
	var err error
	l.buf, err = appendFrame(l.buf, m, MaxFrameBytes)
	cp := &raftpb.Message{}
	if err == nil {
		err = proto.Unmarshal(l.buf[frameHdrSize:], cp)
	}
	size := uint64(len(l.buf))
	if cap(l.buf) > keepFrame {
		l.buf = nil
	}
	if err != nil {
		l.out.c.setErr(err)
		l.out.reportDropped([]*raftpb.Message{m})
		return
	}
	l.out.c.msgsSent.Add(1)
	l.out.c.bytesSent.Add(size)
	l.destRecv.msgsReceived.Add(1)
	l.destRecv.bytesReceived.Add(size)
	err = dest.r.Process(l.destCtx, cp)
	if isSnap(m) {
		status := raft.SnapshotFinish
		if err != nil {
			status = raft.SnapshotFailure
		}
		l.out.r.ReportSnapshot(l.to, status)
	}
}
