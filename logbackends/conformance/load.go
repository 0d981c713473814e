package conformance

import (
	"fmt"
	"math/rand"
	"sync"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// history records a load's operations for crash points taken on any
// goroutine: every operation is recorded before it is made (so one in
// flight is known), and the operations acknowledged as durable form the
// floor every crash point must hold.
type history struct {
	mu       sync.Mutex
	ops      []op
	returned int      // ops[:returned] have returned
	acked    int      // ops[:acked] are acknowledged durable
	floor    logState // the state after ops[:acked]
}

func newHistory() *history { return &history{floor: newLogState()} }

func (h *history) issue(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

// done marks the operations issued so far as returned and, when durable,
// as acknowledged: a durable return covers every operation before it too,
// since the log is recovered as a prefix of what was written.
func (h *history) done(durable bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.returned = len(h.ops)
	if durable {
		h.ackLocked(h.returned)
	}
}

// returnedOps is how many operations had returned.
func (h *history) returnedOps() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.returned
}

// ack acknowledges ops[:n] (for a backend whose syncs, not its Saves, say
// what is durable).
func (h *history) ack(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ackLocked(n)
}

func (h *history) ackLocked(n int) {
	for ; h.acked < n; h.acked++ {
		h.floor.applyOp(h.ops[h.acked])
	}
}

// point returns what a crash now must leave: the acknowledged state, and
// the operations after it, the one in flight included.
func (h *history) point() (logState, []op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.floor.clone(), h.ops[h.acked:len(h.ops):len(h.ops)]
}

// load drives a backend the way raft drives a follower's log, with what a
// crash must not undo varied on purpose: appends with and without a
// HardState, commit-only HardStates saved without a sync, term bumps and
// votes in HardState-only Saves, overwrites of an uncommitted suffix by a
// later term's entries, snapshots installed from a leader, and local
// snapshots with compaction.
type load struct {
	rng *rand.Rand
	b   logbackends.Backend
	h   *history
	s   logState // the log after every operation made
	// durable says a returned operation is acknowledged as durable: for a
	// crash-safe backend every Save with mustSync and every CreateSnapshot
	// (durable when it returns, for every backend); for a backend that
	// syncs on its own schedule, only CreateSnapshot. Compact promises no
	// durability of its own.
	durable func(op) bool
	// snapshotEvery is how many committed entries a local snapshot waits
	// for; about one operation in installOdds installs a snapshot from a
	// leader.
	snapshotEvery, installOdds int
	// plainOnly, when set and true, holds back snapshots and installs
	// (which wait for an adr backend's drainer) for now.
	plainOnly func() bool
}

func crashSafe(o op) bool { return o.kind == opCreateSnapshot || o.kind == opSave && o.mustSync }

func snapshotsOnly(o op) bool { return o.kind == opCreateSnapshot }

func newLoad(b logbackends.Backend, h *history, seed int64, durable func(op) bool) *load {
	return &load{rng: rand.New(rand.NewSource(seed)), b: b, h: h, s: newLogState(), durable: durable, snapshotEvery: 100, installOdds: 33}
}

// confState is the membership of every snapshot the suite makes.
func confState() *raftpb.ConfState { return &raftpb.ConfState{Voters: []uint64{1, 2, 3}} }

// step makes the next operation. The kinds are drawn at random, each only
// where raft could make it.
func (l *load) step() error {
	s := &l.s
	uncommitted := s.last() > s.commit
	plain := l.plainOnly != nil && l.plainOnly()
	switch r := l.rng.Intn(100); {
	case s.commit >= s.snap+uint64(l.snapshotEvery) && s.commit >= s.first && !plain:
		return l.snapshot(s.commit)
	case s.term == 0 || r < 5:
		// A higher term seen: no vote yet, or a vote for a candidate.
		return l.hardStateOnly(s.term+1, uint64(l.rng.Intn(4)), s.commit)
	case r < 10 && s.vote == 0:
		return l.hardStateOnly(s.term, 1+uint64(l.rng.Intn(3)), s.commit)
	case r < 18 && uncommitted:
		// A new leader overwrites an uncommitted suffix.
		j := s.commit + 1 + uint64(l.rng.Int63n(int64(s.last()-s.commit)))
		term := s.term + 1
		return l.save(op{hasHS: true, term: term, vote: 1 + uint64(l.rng.Intn(3)), commit: s.commit,
			lo: j, hi: j + uint64(l.rng.Intn(6)), entTerm: term, mustSync: true})
	case l.rng.Intn(l.installOdds) == 0 && !plain:
		// The leader sends a snapshot: ahead of the log, or inside an
		// uncommitted suffix that conflicts with it.
		at := s.commit + 1 + uint64(l.rng.Intn(int(s.last()-s.commit)+8))
		o := op{hasHS: true, term: s.term, vote: s.vote, commit: at, snapIndex: at, snapTerm: s.term, mustSync: true}
		if k := uint64(l.rng.Intn(4)); k > 0 {
			o.lo, o.hi, o.entTerm = at+1, at+k, s.term
		}
		return l.save(o)
	case r < 35 && uncommitted:
		// Only the commit index moves: raft.MustSync is false.
		return l.save(op{hasHS: true, term: s.term, vote: s.vote, commit: s.commit + 1 + uint64(l.rng.Int63n(int64(s.last()-s.commit))), mustSync: false})
	case r < 47:
		// A follower appends; its HardState did not change.
		n := uint64(1 + l.rng.Intn(6))
		return l.save(op{lo: s.last() + 1, hi: s.last() + n, entTerm: s.term, mustSync: true})
	default:
		n := uint64(1 + l.rng.Intn(6))
		return l.save(op{hasHS: true, term: s.term, vote: s.vote, commit: s.last(),
			lo: s.last() + 1, hi: s.last() + n, entTerm: s.term, mustSync: true})
	}
}

func (l *load) hardStateOnly(term, vote, commit uint64) error {
	return l.save(op{hasHS: true, term: term, vote: vote, commit: commit, mustSync: true})
}

// save makes the Save o describes.
func (l *load) save(o op) error {
	o.kind = opSave
	var hs *raftpb.HardState
	if o.hasHS {
		hs = &raftpb.HardState{Term: new(o.term), Vote: new(o.vote), Commit: new(o.commit)}
	}
	var snap *raftpb.Snapshot
	if o.snapIndex > 0 {
		snap = &raftpb.Snapshot{Data: fmt.Appendf(nil, "snapshot %d", o.snapIndex), Metadata: &raftpb.SnapshotMetadata{
			Index: new(o.snapIndex), Term: new(o.snapTerm), ConfState: confState()}}
	}
	var es []*raftpb.Entry
	if o.lo > 0 {
		es = ents(o.lo, o.hi, o.entTerm)
	}
	l.h.issue(o)
	if err := l.b.Save(hs, es, snap, o.mustSync); err != nil {
		return fmt.Errorf("Save(%s): %w", o, err)
	}
	l.s.applyOp(o)
	l.h.done(l.durable(o))
	return nil
}

// snapshot records a snapshot at i and compacts the log behind it, keeping
// a few entries.
func (l *load) snapshot(i uint64) error {
	o := op{kind: opCreateSnapshot, at: i}
	l.h.issue(o)
	if _, err := l.b.CreateSnapshot(i, confState(), nil); err != nil {
		return fmt.Errorf("CreateSnapshot(%d): %w", i, err)
	}
	l.s.applyOp(o)
	l.h.done(l.durable(o))
	c := i - min(3, i-l.s.first+1)
	if c < l.s.first {
		return nil
	}
	o = op{kind: opCompact, at: c}
	l.h.issue(o)
	if err := l.b.Compact(c); err != nil {
		return fmt.Errorf("Compact(%d): %w", c, err)
	}
	l.s.applyOp(o)
	l.h.done(l.durable(o))
	return nil
}

func (o op) String() string {
	switch o.kind {
	case opCreateSnapshot:
		return fmt.Sprintf("snapshot at %d", o.at)
	case opCompact:
		return fmt.Sprintf("compact to %d", o.at)
	}
	s := ""
	if o.hasHS {
		s = fmt.Sprintf("term %d vote %d commit %d", o.term, o.vote, o.commit)
	}
	if o.lo > 0 {
		s += fmt.Sprintf(" entries %d..%d term %d", o.lo, o.hi, o.entTerm)
	}
	if o.snapIndex > 0 {
		s += fmt.Sprintf(" install snapshot %d term %d", o.snapIndex, o.snapTerm)
	}
	return fmt.Sprintf("%s, mustSync %v", s, o.mustSync)
}
