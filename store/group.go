package store

import (
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Group commit in the raft loop, for a log backend whose Save is fast.
//
// A slow Save (an fdatasync) groups proposals by itself: the loop is blocked
// in it while requests queue, and the next pass takes them all. A Save that
// returns in microseconds (adr, memory) lets the loop go round with a few
// entries per pass, and every pass costs CPU on the leader and, through
// more and smaller appends, on every follower. So while the leader's last
// append is not yet committed, and its Saves are fast, it holds new
// proposals (its own and those its followers forward) and proposes them
// together once that append commits, at most groupWindow after the first
// was held, or at once when maxBatch are held. Proposals that find nothing
// in flight go out at once, so a single client waits for nothing.
//
// Holding changes only when entries enter the log, never what a Save
// promises or when anything is acknowledged: an entry is still saved before
// the leader counts it and before a follower answers for it.
const (
	// groupWindow bounds how long a proposal is held.
	groupWindow = 2 * time.Millisecond
	// fastSave is the moving average of a leader's Saves with entries
	// below which the leader holds proposals: a Save this short gathers
	// almost nothing by itself.
	fastSave = 200 * time.Microsecond
	// saveAvgShift sets the weight of each new Save in the moving
	// average: 1/16.
	saveAvgShift = 4
)

// proposalGroup holds the proposals the loop has taken but not yet stepped
// into raft. Only the loop uses it.
type proposalGroup struct {
	held []proposal
	// since is when the first of held was taken.
	since time.Time
	// appended is the last index the leader appended; while commit is
	// below it an append is in flight.
	appended uint64
	// saveAvg is the moving average of the duration of Saves that
	// carried entries, on the leader.
	saveAvg time.Duration
	timer   *time.Timer
	armed   bool
}

func newProposalGroup() *proposalGroup {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &proposalGroup{held: make([]proposal, 0, maxBatch), timer: t}
}

// add takes a proposal into the group.
func (g *proposalGroup) add(p proposal, now time.Time) {
	if len(g.held) == 0 {
		g.since = now
	}
	g.held = append(g.held, p)
}

// full reports whether the group holds as many proposals as one batch takes.
func (g *proposalGroup) full() bool { return len(g.held) >= maxBatch }

// hold reports whether the held proposals should wait longer: this member
// leads, its Saves are fast, its last append is not committed yet, the
// group is not full and the first held proposal has waited less than
// groupWindow. commit is asked last, only when everything else says hold.
// When it returns true the timer is armed for the rest of the window.
func (g *proposalGroup) hold(now time.Time, leader bool, commit func() uint64) bool {
	if len(g.held) == 0 || g.full() || !leader || g.saveAvg >= fastSave {
		return false
	}
	left := groupWindow - now.Sub(g.since)
	if left <= 0 || commit() >= g.appended {
		return false
	}
	if !g.armed {
		g.timer.Reset(left)
		g.armed = true
	}
	return true
}

// take returns the held proposals and empties the group; the slice is the
// group's own and is reused after the caller is done with it.
func (g *proposalGroup) take() []proposal {
	if g.armed {
		g.timer.Stop()
		g.armed = false
	}
	return g.held
}

// reset empties the group after the batch take returned was proposed.
func (g *proposalGroup) reset() {
	clear(g.held)
	g.held = g.held[:0]
}

// expired is the timer's channel: the window of the first held proposal
// has passed.
func (g *proposalGroup) expired() <-chan time.Time { return g.timer.C }

// fired records that the timer's value was received.
func (g *proposalGroup) fired() { g.armed = false }

// saved records a Save of the leader's and what it appended.
func (g *proposalGroup) saved(ents []*raftpb.Entry, took time.Duration) {
	if len(ents) == 0 {
		return
	}
	g.appended = ents[len(ents)-1].GetIndex()
	g.saveAvg += (took - g.saveAvg) >> saveAvgShift
}

// forwardable reports whether a follower's forwarded proposal can join the
// leader's group: its entries are plain ones, as the followers' own
// proposeBatch makes them. Anything else (a configuration change) is
// stepped as it came.
func forwardable(m *raftpb.Message) bool {
	if m.GetType() != raftpb.MsgProp || len(m.GetEntries()) == 0 {
		return false
	}
	for _, e := range m.GetEntries() {
		if e.GetType() != raftpb.EntryNormal || e.GetIndex() != 0 || e.GetTerm() != 0 {
			return false
		}
	}
	return true
}
