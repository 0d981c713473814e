package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/store/transport"
)

// maxBatch bounds how many queued inputs (proposals, messages) the loop takes
// in one go before it looks at raft's Ready again, so that neither input
// starves the other.
const maxBatch = 512

// proposal is one client request on its way into the log.
type proposal struct {
	data []byte
	id   uint64 // the request id its proposer waits on
	// forwarded marks a follower's proposal that the leader took into
	// its group: nobody here waits on it.
	forwarded bool
}

// nodeStatus is what the rest of the server reads about raft without
// touching the RawNode, which only the loop may use. The loop writes it;
// anyone may read it.
type nodeStatus struct {
	id            uint64 // this member, fixed
	lead          atomic.Uint64
	term          atomic.Uint64
	commit        atomic.Uint64
	leaderChanges atomic.Uint64
	hasLeader     atomic.Bool
}

// leader returns the leader this member knows, or 0.
func (s *nodeStatus) leader() uint64 { return s.lead.Load() }

// isLeader reports whether this member is the leader.
func (s *nodeStatus) isLeader() bool { return s.lead.Load() == s.id }

// stateMachine is how the raft loop reaches the state machine. It is a set
// of functions, not the applier itself: the loop hands work over and the
// state machine never sees the node.
type stateMachine struct {
	// enqueue takes committed entries, in log order. It may block, which
	// pushes back on raft.
	enqueue func([]*raftpb.Entry)
	// restore replaces the state machine with a snapshot's data, durably,
	// after everything enqueued before it.
	restore func(*raftpb.Snapshot) error
	// snapshotData returns the state machine's data for a MsgSnap.
	snapshotData func() ([]byte, error)
	// snapshots carries the indexes up to which the state machine is
	// durable: the log may record a snapshot there and compact behind it.
	snapshots <-chan uint64
}

// nodeHooks are told of what the loop decides. Each is called from the
// loop and must not block on it.
type nodeHooks struct {
	// onLeader is told when this member gains or loses leadership.
	onLeader func(isLeader bool)
	// onRefused is told of proposals raft refused (no leader, leadership
	// in transfer), so their proposers stop waiting.
	onRefused func(id uint64, err error)
	// onFatal is called once if the log cannot be written: the member must
	// stop rather than go on with a log it cannot trust. The loop returns
	// right after calling it.
	onFatal func(error)
}

// nodeDeps is everything a raft node works with besides its log.
type nodeDeps struct {
	log   *slog.Logger
	sm    stateMachine
	hooks nodeHooks
	// newTransport builds the peer transport, which delivers inbound
	// messages to the node it is given. The node owns the transport and
	// closes it when it stops.
	newTransport func(transport.Raft) (transport.Transport, error)
}

// raftNode owns the RawNode and runs the Ready loop: it is the only goroutine
// that touches raft and the log backend's write side.
type raftNode struct {
	id        uint64
	rn        *raft.RawNode
	storage   logbackends.Backend
	transport transport.Transport
	log       *slog.Logger
	tick      time.Duration
	sm        stateMachine
	hooks     nodeHooks

	propc      chan proposal
	group      *proposalGroup
	recvc      chan *raftpb.Message
	readc      chan []byte
	readStates chan raft.ReadState
	reportc    chan func(*raft.RawNode)
	stopc      chan struct{}
	stopOnce   sync.Once

	// status is shared with readers; the loop is its only writer.
	status    *nodeStatus
	confState *raftpb.ConfState
	// pendingSnap is the latest snapshot request that could not yet be
	// served because its index is not yet in the local log.
	pendingSnap uint64
	catchUp     uint64
	wg          sync.WaitGroup
}

type nodeConfig struct {
	id              uint64
	heartbeat       time.Duration
	electionTimeout time.Duration
	catchUp         uint64
}

// newRaftNode restarts raft from storage and builds the
// peer transport last, so that nothing is left to close when it fails. The
// loop starts with start.
func newRaftNode(cfg nodeConfig, storage logbackends.Backend, deps nodeDeps) (*raftNode, error) {
	rn, cs, err := newRawNode(cfg, storage, deps.log)
	if err != nil {
		return nil, err
	}
	n := &raftNode{
		id:         cfg.id,
		rn:         rn,
		storage:    storage,
		log:        deps.log,
		tick:       cfg.heartbeat,
		sm:         deps.sm,
		hooks:      deps.hooks,
		propc:      make(chan proposal, 4096),
		group:      newProposalGroup(),
		recvc:      make(chan *raftpb.Message, 4096),
		readc:      make(chan []byte, 64),
		readStates: make(chan raft.ReadState, 64),
		reportc:    make(chan func(*raft.RawNode), 256),
		stopc:      make(chan struct{}),
		status:     &nodeStatus{id: cfg.id},
		confState:  cs,
		catchUp:    cfg.catchUp,
	}
	n.transport, err = deps.newTransport(n)
	if err != nil {
		return nil, fmt.Errorf("start peer transport: %w", err)
	}
	return n, nil
}

// newRawNode builds the RawNode on storage, which holds at least the
// cluster's bootstrap (bootstrapLog), and returns the log's last
// configuration. Raft starts as on any restart: a new member learns the
// membership from the committed bootstrap entries, as a restarted one
// does from the entries after its snapshot.
func newRawNode(cfg nodeConfig, storage logbackends.Backend, log *slog.Logger) (*raft.RawNode, *raftpb.ConfState, error) {
	snap, err := storage.Snapshot()
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot: %w", err)
	}
	_, cs, err := storage.InitialState()
	if err != nil {
		return nil, nil, fmt.Errorf("read initial state: %w", err)
	}
	electionTicks := int(cfg.electionTimeout / cfg.heartbeat)
	rc := &raft.Config{
		ID:              cfg.id,
		ElectionTick:    electionTicks,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   maxSizePerMsg,
		MaxInflightMsgs: 512,
		// Bound what a leader without a quorum buffers, as etcd does.
		MaxUncommittedEntriesSize: 1 << 30,
		CheckQuorum:               true,
		PreVote:                   true,
		// Raft hands back every committed entry after the log's snapshot:
		// conf changes must be re-applied to raft on restart, and the
		// applier skips the entries the state machine already has (it
		// knows its own consistent index).
		Applied: snap.GetMetadata().GetIndex(),
		Logger:  raftLogger{log: log},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("start raft: %w", err)
	}
	return rn, cs, nil
}

// start runs the loop.
func (n *raftNode) start() {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.run()
	}()
}

// stop ends the loop, waits for the goroutines sending snapshots, then
// closes the transport. It may be called more than once, and on a node
// that never started.
func (n *raftNode) stop() error {
	n.stopOnce.Do(func() { close(n.stopc) })
	n.wg.Wait()
	return n.transport.Close()
}

// propose queues a proposal; it blocks only while the queue is full.
func (n *raftNode) propose(ctx context.Context, p proposal) error {
	// The common case takes no lock on the shared stop channel.
	select {
	case n.propc <- p:
		return nil
	default:
	}
	select {
	case n.propc <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

// readIndex asks raft for a read index tagged with rctx.
func (n *raftNode) readIndex(ctx context.Context, rctx []byte) error {
	select {
	case n.readc <- rctx:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

// readStatesChan carries raft's answers to readIndex requests. The loop
// never waits for a reader: an answer that does not fit is dropped, and
// its reader asks again.
func (n *raftNode) readStatesChan() <-chan raft.ReadState { return n.readStates }

// maxSizePerMsg is raft's MaxSizePerMsg: the entries of one append, etcd's
// default. The peer transport bounds its frames from it.
const maxSizePerMsg = 1 << 20

// Process implements transport.Raft: a message from a peer.
func (n *raftNode) Process(ctx context.Context, m *raftpb.Message) error {
	select {
	case n.recvc <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

// ReportUnreachable implements transport.Raft.
func (n *raftNode) ReportUnreachable(id uint64) {
	n.report(func(rn *raft.RawNode) { rn.ReportUnreachable(id) })
}

// ReportSnapshot implements transport.Raft.
func (n *raftNode) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	n.report(func(rn *raft.RawNode) { rn.ReportSnapshot(id, status) })
}

func (n *raftNode) report(f func(*raft.RawNode)) {
	select {
	case n.reportc <- f:
	case <-n.stopc:
	default:
		// A full report queue only loses a hint: raft probes again on
		// its own after the next heartbeat.
	}
}

func (n *raftNode) run() {
	defer n.recoverRaft()
	ticker := time.NewTicker(n.tick)
	defer ticker.Stop()
	for {
		// Like raft.Node, take no proposals while there is no leader: they
		// wait in the queue (bounded by their request timeout) instead of
		// failing during an election. A full group takes none either.
		propc := n.propc
		if !n.status.hasLeader.Load() || n.group.full() {
			propc = nil
		}
		select {
		case <-ticker.C:
			n.rn.Tick()
		case m := <-n.recvc:
			n.step(m)
			n.drainRecv()
		case p := <-propc:
			n.group.add(p, time.Now())
			n.drainProps()
		case <-n.group.expired():
			n.group.fired()
		case rctx := <-n.readc:
			n.rn.ReadIndex(rctx)
		case f := <-n.reportc:
			f(n.rn)
		case idx := <-n.sm.snapshots:
			if idx > n.pendingSnap {
				n.pendingSnap = idx
			}
		case <-n.stopc:
			return
		}
		n.proposeHeld()
		for n.rn.HasReady() {
			if err := n.handleReady(); err != nil {
				n.hooks.onFatal(err)
				return
			}
		}
		if n.pendingSnap != 0 {
			if err := n.snapshot(); err != nil {
				n.hooks.onFatal(err)
				return
			}
		}
	}
}

// step steps a message from a peer into raft, except that the leader takes
// a follower's forwarded proposal into its group.
func (n *raftNode) step(m *raftpb.Message) {
	if n.status.isLeader() && forwardable(m) {
		now := time.Now()
		for _, e := range m.GetEntries() {
			n.group.add(proposal{data: e.GetData(), forwarded: true}, now)
		}
		return
	}
	if err := n.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		n.log.Debug("raft step", "type", m.GetType().String(), "from", m.GetFrom(), "err", err)
	}
}

func (n *raftNode) drainRecv() {
	for i := 0; i < maxBatch; i++ {
		select {
		case m := <-n.recvc:
			n.step(m)
		default:
			return
		}
	}
}

// drainProps takes queued proposals into the group until it is full or the
// queue is empty.
func (n *raftNode) drainProps() {
	now := time.Now()
	for !n.group.full() {
		select {
		case p := <-n.propc:
			n.group.add(p, now)
		default:
			return
		}
	}
}

// proposeHeld proposes the group's proposals unless it should hold them
// (see proposalGroup.hold). The commit index is raft's own, so an append
// that the messages just stepped committed releases the group in the same
// pass, and its entries share the Ready that carries the commit.
func (n *raftNode) proposeHeld() {
	if len(n.group.held) == 0 {
		return
	}
	commit := func() uint64 { return n.rn.BasicStatus().GetCommit() }
	if n.group.hold(time.Now(), n.status.isLeader(), commit) {
		return
	}
	n.proposeBatch(n.group.take())
	n.group.reset()
}

// proposeBatch steps all held proposals as one MsgProp, so that a burst
// of client requests becomes one append and one message per follower.
func (n *raftNode) proposeBatch(props []proposal) {
	ents := make([]*raftpb.Entry, len(props))
	for i := range props {
		ents[i] = &raftpb.Entry{Data: props[i].data}
	}
	err := n.rn.Step(&raftpb.Message{Type: raftpb.MsgProp.Enum(), From: new(n.id), Entries: ents})
	if err != nil {
		if errors.Is(err, raft.ErrProposalDropped) {
			err = ErrNoLeader
		}
		for _, p := range props {
			if !p.forwarded {
				n.hooks.onRefused(p.id, err)
			}
		}
	}
}

// handleReady persists and sends one Ready, following the raft contract:
// entries and HardState are saved before any message that depends on them
// is sent, except that a leader sends its appends in parallel with its own
// save (raft thesis §10.2.1): it does not count itself towards a commit
// until Advance, which comes after the save.
func (n *raftNode) handleReady() error {
	rd := n.rn.Ready()
	// Record the commit index before any message can tell a follower of
	// it: lease reads on the leader wait until it is applied.
	if rd.HardState != nil {
		n.status.term.Store(rd.HardState.GetTerm())
		n.status.commit.Store(rd.HardState.GetCommit())
	}
	if rd.SoftState != nil {
		n.updateSoftState(rd.SoftState)
	}
	if len(rd.ReadStates) > 0 {
		n.deliverReadStates(rd.ReadStates)
	}
	isLeader := n.status.lead.Load() == n.id
	msgs := n.prepareMessages(rd.Messages)
	if isLeader {
		n.transport.Send(msgs)
	}
	snap := rd.Snapshot
	if !raft.IsEmptySnap(snap) {
		// The state machine takes the snapshot's data first and makes it
		// durable; only then does the log record the snapshot, so a crash
		// in between leaves a state machine ahead of its log, which replay
		// handles, never a log pointing at state that is not there.
		if err := n.sm.restore(snap); err != nil {
			return fmt.Errorf("restore snapshot at %d: %w", snap.GetMetadata().GetIndex(), err)
		}
		snap = &raftpb.Snapshot{Metadata: snap.GetMetadata()}
		n.confState = snap.GetMetadata().GetConfState()
	}
	committed := rd.CommittedEntries
	for _, e := range committed {
		if e.GetType() == raftpb.EntryConfChange || e.GetType() == raftpb.EntryConfChangeV2 {
			if err := n.applyConfChange(e); err != nil {
				return err
			}
		}
	}
	if isLeader && len(committed) > 0 {
		n.sm.enqueue(committed)
	}
	start := time.Now()
	if err := n.storage.Save(rd.HardState, rd.Entries, snap, rd.MustSync); err != nil {
		return fmt.Errorf("save raft log: %w", err)
	}
	if isLeader {
		n.group.saved(rd.Entries, time.Since(start))
	}
	if !isLeader {
		n.transport.Send(msgs)
		if len(committed) > 0 {
			n.sm.enqueue(committed)
		}
	}
	n.rn.Advance(rd)
	return nil
}

func (n *raftNode) updateSoftState(ss *raft.SoftState) {
	prev := n.status.lead.Swap(ss.Lead)
	n.status.hasLeader.Store(ss.Lead != raft.None)
	if prev != ss.Lead && ss.Lead != raft.None {
		n.status.leaderChanges.Add(1)
	}
	wasLeader, isLeader := prev == n.id, ss.Lead == n.id
	if wasLeader != isLeader {
		n.hooks.onLeader(isLeader)
	}
}

// deliverReadStates passes ReadIndex answers on without blocking the loop:
// an answer nobody takes is dropped, as its reader retries.
func (n *raftNode) deliverReadStates(states []raft.ReadState) {
	for _, st := range states {
		select {
		case n.readStates <- st:
		default:
		}
	}
}

// prepareMessages attaches the state machine's data to snapshot messages.
// Building it can take a while for a large store, so those messages are
// sent from their own goroutine and left out of the returned slice.
func (n *raftNode) prepareMessages(msgs []*raftpb.Message) []*raftpb.Message {
	if !slices.ContainsFunc(msgs, func(m *raftpb.Message) bool { return m.GetType() == raftpb.MsgSnap }) {
		return msgs
	}
	out := make([]*raftpb.Message, 0, len(msgs))
	for _, m := range msgs {
		if m.GetType() != raftpb.MsgSnap {
			out = append(out, m)
			continue
		}
		n.wg.Add(1)
		go func(m *raftpb.Message) {
			defer n.wg.Done()
			data, err := n.sm.snapshotData()
			if err != nil {
				n.log.Warn("snapshot for follower", "to", m.GetTo(), "err", err)
				n.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
				return
			}
			sm := withSnapshotData(m, data)
			n.transport.Send([]*raftpb.Message{sm})
		}(m)
	}
	return out
}

func (n *raftNode) applyConfChange(e *raftpb.Entry) error {
	var cc raftpb.ConfChangeI
	if e.GetType() == raftpb.EntryConfChange {
		var c raftpb.ConfChange
		if err := unmarshal(e.GetData(), &c); err != nil {
			return fmt.Errorf("decode conf change at %d: %w", e.GetIndex(), err)
		}
		cc = &c
	} else {
		var c raftpb.ConfChangeV2
		if err := unmarshal(e.GetData(), &c); err != nil {
			return fmt.Errorf("decode conf change at %d: %w", e.GetIndex(), err)
		}
		cc = &c
	}
	n.confState = n.rn.ApplyConfChange(cc)
	return nil
}

// snapshot records a snapshot at the pending index once the local log has
// it, then compacts the log behind it.
func (n *raftNode) snapshot() error {
	idx := n.pendingSnap
	last, err := n.storage.LastIndex()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if idx > last {
		return nil
	}
	n.pendingSnap = 0
	if _, err := n.storage.CreateSnapshot(idx, n.confState, nil); err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return fmt.Errorf("create snapshot at %d: %w", idx, err)
	}
	if idx > n.catchUp {
		if err := n.storage.Compact(idx - n.catchUp); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("compact log at %d: %w", idx-n.catchUp, err)
		}
	}
	n.log.Debug("snapshot", "index", idx)
	return nil
}

// raftLogger adapts raft's logger to slog; raft's Info is our Debug, since
// it narrates every election.
type raftLogger struct{ log *slog.Logger }

func (l raftLogger) Debug(v ...any)                 {}
func (l raftLogger) Debugf(format string, v ...any) {}
func (l raftLogger) Info(v ...any)                  { l.log.Debug(fmt.Sprint(v...)) }
func (l raftLogger) Infof(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l raftLogger) Warning(v ...any)               { l.log.Warn(fmt.Sprint(v...)) }
func (l raftLogger) Warningf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
func (l raftLogger) Error(v ...any)                 { l.log.Error(fmt.Sprint(v...)) }
func (l raftLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l raftLogger) Fatal(v ...any)                 { panic(raftPanic(fmt.Sprint(v...))) }
func (l raftLogger) Fatalf(format string, v ...any) { panic(raftPanic(fmt.Sprintf(format, v...))) }
func (l raftLogger) Panic(v ...any)                 { panic(raftPanic(fmt.Sprint(v...))) }
func (l raftLogger) Panicf(format string, v ...any) { panic(raftPanic(fmt.Sprintf(format, v...))) }

// raftPanic is what raft panics with, through raftLogger, when an invariant
// of its own does not hold.
type raftPanic string

// recoverRaft turns a panic of raft's own in the raft loop into a fatal
// error that stops the member with raft's reason, instead of crashing the
// process; any other panic is a bug and goes on. The commonest cause is a
// member whose data dir was removed while a leader still counts entries as
// stored on it: that leader's heartbeat then carries a commit index beyond
// the member's log.
func (n *raftNode) recoverRaft() {
	r := recover()
	if r == nil {
		return
	}
	p, ok := r.(raftPanic)
	if !ok {
		panic(r)
	}
	hint := ""
	if strings.Contains(string(p), "out of range [lastIndex(") {
		hint = ": the leader counts entries as stored on this member that its log does not have, as after its data dir was removed or restored from an older copy; " +
			"if the data dir was removed on purpose, restart the current leader (a new term makes the leader forget how far this member had got), then start this member again on an empty data dir"
	}
	n.hooks.onFatal(fmt.Errorf("%w: %s%s", ErrRaftInconsistent, string(p), hint))
}
