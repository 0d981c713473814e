package store

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/adrbench/adrbench/store/transport"
)

// core is the replicated part of a member: the applier, the raft node with
// its peer transport, and the two ways requests go through them, proposals
// and linearizable reads. The parts are built in the order they depend on
// each other; none of them sees the whole.
type core struct {
	waits    *waitList
	applied  *indexWaiter
	stats    *proposalStats
	applier  *applier
	node     *raftNode
	reads    *readBatcher
	proposer *proposer
	// tokens keeps the simple tokens every member assigns when it
	// applies an authentication; nil with signed tokens.
	tokens *simpleTokens
}

// coreDeps is what the core needs from outside the member's state.
type coreDeps struct {
	// newTransport builds the peer transport for the node it is given.
	newTransport func(transport.Raft) (transport.Transport, error)
	// fatal stops the member.
	fatal func(error)
	log   *slog.Logger
}

// newCore builds the core on the member's state: the applier first (it
// needs only the state), then the raft node, which hands committed entries
// to the applier and is told of snapshots the applier made durable through
// a mailbox, then reads and proposals on top of the node. On error nothing
// is left open.
func newCore(cfg Config, id uint64, st *memberState, deps coreDeps) (*core, error) {
	snap, err := st.backend.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	waits := newWaitList()
	applied := &indexWaiter{}
	stats := &proposalStats{}
	snapshots := newSnapshotMailbox()
	var tokens *simpleTokens
	if _, signed, _ := cfg.jwtConfig(); !signed {
		tokens = newSimpleTokens(applied, cfg.AuthTokenTTL)
	}
	ap := newApplier(applierDeps{
		kv:              st.kv,
		waits:           waits,
		lessor:          st.lessor,
		members:         st.members,
		applied:         applied,
		requestSnapshot: snapshots.put,
		fatal:           deps.fatal,
		snapshotCount:   cfg.SnapshotCount,
		tokens:          tokens,
	}, snap.GetMetadata().GetIndex())
	node, err := newRaftNode(nodeConfig{
		id:              id,
		heartbeat:       cfg.HeartbeatInterval,
		electionTimeout: cfg.ElectionTimeout,
		catchUp:         cfg.SnapshotCatchUpEntries,
	}, st.backend, nodeDeps{
		log: deps.log,
		sm: stateMachine{
			enqueue:      ap.enqueue,
			restore:      ap.restore,
			snapshotData: ap.snapshotData,
			snapshots:    snapshots,
		},
		hooks: nodeHooks{
			onLeader:  leaseClock(st.lessor, cfg),
			onRefused: func(id uint64, err error) { waits.trigger(id, result{err: err}) },
			onFatal:   deps.fatal,
		},
		newTransport: deps.newTransport,
	})
	if err != nil {
		return nil, err
	}
	timeout := requestTimeout(cfg)
	return &core{
		waits:   waits,
		applied: applied,
		stats:   stats,
		applier: ap,
		node:    node,
		tokens:  tokens,
		reads: newReadBatcher(readDeps{
			readIndex: node.readIndex,
			states:    node.readStatesChan(),
			status:    node.status,
			applied:   applied,
			timeout:   timeout,
			retry:     cfg.ElectionTimeout / 2,

			staleOnFollowers: cfg.UnsafeStaleReads,
		}),
		proposer: &proposer{
			ids:      newIDGenerator(id, time.Now()),
			waits:    waits,
			submit:   node.propose,
			maxBytes: cfg.MaxRequestBytes,
			timeout:  timeout,
			stats:    stats,
		},
	}, nil
}

// leaseClock makes the lessor follow leadership: only the leader's clock
// decides when a lease expires.
func leaseClock(l *lessor, cfg Config) func(isLeader bool) {
	return func(isLeader bool) {
		if isLeader {
			l.promote(cfg.ElectionTimeout)
		} else {
			l.demote()
		}
	}
}

// start runs the applier, then the raft loop that feeds it, then the read
// batcher that asks the loop for read indexes.
func (c *core) start() {
	c.applier.start()
	c.node.start()
	c.reads.start()
}
