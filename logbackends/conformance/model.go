package conformance

import (
	"bytes"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// logState is what a raft log holds after some of the operations a load
// made: the model a recovered backend is compared with.
type logState struct {
	hasHS              bool
	term, vote, commit uint64
	first              uint64   // index of the first entry (the compaction point plus one)
	terms              []uint64 // the term of each entry from first on
	snap               uint64   // index of the latest snapshot, 0 for none
}

func newLogState() logState { return logState{first: 1} }

func (s logState) last() uint64 { return s.first + uint64(len(s.terms)) - 1 }

// termAt is the term of entry i, which must be in the log.
func (s logState) termAt(i uint64) uint64 { return s.terms[i-s.first] }

func (s logState) clone() logState {
	s.terms = slices.Clone(s.terms)
	return s
}

// op is one call the load made on the backend: a Save, a CreateSnapshot or
// a Compact.
type op struct {
	kind opKind
	// A Save's HardState (hasHS), entries lo..hi of term (none when lo is
	// 0), and installed snapshot (snapIndex above 0, at snapTerm).
	hasHS              bool
	term, vote, commit uint64
	lo, hi, entTerm    uint64
	snapIndex          uint64
	snapTerm           uint64
	mustSync           bool
	// at is the index a CreateSnapshot or Compact is at.
	at uint64
}

type opKind int

const (
	opSave opKind = iota
	opCreateSnapshot
	opCompact
)

// records returns the effects of o in the order a log records them: an
// installed snapshot, each entry, the HardState; a recovered log holds the
// effects of a prefix of the records the load made.
func (o op) records() []record {
	switch o.kind {
	case opCreateSnapshot:
		return []record{{kind: recSnapshot, index: o.at}}
	case opCompact:
		return []record{{kind: recCompact, index: o.at}}
	}
	var out []record
	if o.snapIndex > 0 {
		out = append(out, record{kind: recInstall, index: o.snapIndex, term: o.snapTerm})
	}
	for i := o.lo; o.lo > 0 && i <= o.hi; i++ {
		out = append(out, record{kind: recEntry, index: i, term: o.entTerm})
	}
	if o.hasHS {
		out = append(out, record{kind: recHardState, term: o.term, vote: o.vote, index: o.commit})
	}
	return out
}

type recKind int

const (
	recEntry recKind = iota
	recHardState
	recInstall
	recSnapshot
	recCompact
)

// record is one effect of an op; for a HardState, index is the commit.
type record struct {
	kind        recKind
	index, term uint64
	vote        uint64
}

// apply changes s as a log replaying r does.
func (s *logState) apply(r record) {
	switch r.kind {
	case recEntry:
		if r.index < s.first {
			return
		}
		s.terms = append(s.terms[:r.index-s.first], r.term)
	case recHardState:
		s.hasHS, s.term, s.vote, s.commit = true, r.term, r.vote, r.index
	case recInstall:
		s.snap, s.first, s.terms = r.index, r.index+1, nil
	case recSnapshot:
		s.snap = max(s.snap, r.index)
	case recCompact:
		if r.index >= s.first {
			s.terms = slices.Clone(s.terms[r.index+1-s.first:])
			s.first = r.index + 1
		}
	}
}

// applyOp applies every record of o.
func (s *logState) applyOp(o op) {
	for _, r := range o.records() {
		s.apply(r)
	}
}

// observed is what a reopened backend holds, read through raft.Storage.
type observed struct {
	logState
	// dataErr names the first entry whose data is not what the load wrote
	// for its index and term.
	dataErr string
}

// observe reads b's state.
func observe(b logbackends.Backend) (observed, error) {
	var o observed
	hs, _, err := b.InitialState()
	if err != nil {
		return o, fmt.Errorf("InitialState: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		o.hasHS, o.term, o.vote, o.commit = true, hs.GetTerm(), hs.GetVote(), hs.GetCommit()
	}
	fi, _ := b.FirstIndex()
	li, _ := b.LastIndex()
	o.first = fi
	if li >= fi {
		got, err := b.Entries(fi, li+1, ^uint64(0))
		if err != nil {
			return o, fmt.Errorf("Entries(%d, %d): %w", fi, li+1, err)
		}
		if uint64(len(got)) != li-fi+1 {
			return o, fmt.Errorf("Entries(%d, %d) returned %d entries", fi, li+1, len(got))
		}
		o.terms = make([]uint64, len(got))
		for k, e := range got {
			i := fi + uint64(k)
			o.terms[k] = e.GetTerm()
			if o.dataErr == "" && (e.GetIndex() != i || !bytes.Equal(e.GetData(), entryData(i, e.GetTerm()))) {
				o.dataErr = fmt.Sprintf("entry %d holds index %d and data not written for term %d", i, e.GetIndex(), e.GetTerm())
			}
		}
	}
	s, err := b.Snapshot()
	if err != nil {
		return o, fmt.Errorf("Snapshot: %w", err)
	}
	o.snap = s.GetMetadata().GetIndex()
	return o, nil
}

// diff names the first way o differs from s, "" when it does not.
func (o observed) diff(s logState) string {
	switch {
	case o.dataErr != "":
		return o.dataErr
	case o.hasHS != s.hasHS || o.term != s.term || o.vote != s.vote || o.commit != s.commit:
		return fmt.Sprintf("hard state term %d vote %d commit %d, want term %d vote %d commit %d",
			o.term, o.vote, o.commit, s.term, s.vote, s.commit)
	case o.snap != s.snap:
		return fmt.Sprintf("snapshot at %d, want %d", o.snap, s.snap)
	case o.first != s.first || o.last() != s.last():
		return fmt.Sprintf("log %d..%d, want %d..%d", o.first, o.last(), s.first, s.last())
	}
	for k, t := range s.terms {
		if o.terms[k] != t {
			return fmt.Sprintf("entry %d has term %d, want %d", s.first+uint64(k), o.terms[k], t)
		}
	}
	return ""
}

// ackedDiff names a way o fails to hold what the acknowledged state s
// promised whatever came after it (a term, a vote in that term, the commit
// index, the snapshot, the committed entries), "" when it finds none. It
// reports a recovery that matches no state clearly.
func (o observed) ackedDiff(s logState) string {
	switch {
	case o.dataErr != "":
		return o.dataErr
	case o.term < s.term:
		return fmt.Sprintf("term %d, but term %d was acknowledged", o.term, s.term)
	case o.term == s.term && s.vote != 0 && o.vote != s.vote:
		return fmt.Sprintf("vote %d in term %d, but vote %d was acknowledged", o.vote, o.term, s.vote)
	case o.commit < s.commit:
		return fmt.Sprintf("commit %d, but commit %d was acknowledged", o.commit, s.commit)
	case o.snap < s.snap:
		return fmt.Sprintf("snapshot at %d, but one at %d was acknowledged", o.snap, s.snap)
	case o.last() < s.commit:
		return fmt.Sprintf("last index %d, but entries up to %d were committed", o.last(), s.commit)
	}
	for i := max(o.first, s.first); i <= min(o.last(), s.last(), s.commit); i++ {
		if o.termAt(i) != s.termAt(i) {
			return fmt.Sprintf("committed entry %d has term %d, but term %d was acknowledged", i, o.termAt(i), s.termAt(i))
		}
	}
	return ""
}

// crashPoint is what a crash left (a clone of the disk and, for a backend
// with a region, an image of it taken at the same instant) and what it
// must hold: the state of the operations acknowledged by then (floor),
// or of some later prefix of the records of the operations after it
// (pending, the one in flight included).
type crashPoint struct {
	fs      *vfs.Mem
	img     []byte
	floor   logState
	pending []op
	keep    float64
	where   string
}

// matches returns nil when o is the state of the floor or of a prefix of
// the records of the pending operations, else an error naming what was
// lost, compared with the floor.
func (p *crashPoint) matches(o observed) error {
	s := p.floor.clone()
	if o.diff(s) == "" {
		return nil
	}
	for _, op := range p.pending {
		for _, r := range op.records() {
			s.apply(r)
			if o.diff(s) == "" {
				return nil
			}
		}
	}
	if d := o.ackedDiff(p.floor); d != "" {
		return fmt.Errorf("lost what was acknowledged: %s", d)
	}
	return fmt.Errorf("recovered a state no prefix of the writes leaves (%d operations after the acknowledged ones): %s, compared with the acknowledged state",
		len(p.pending), o.diff(p.floor))
}

// hardState is the HardState a model state records.
func (s logState) hardState() *raftpb.HardState {
	return &raftpb.HardState{Term: new(s.term), Vote: new(s.vote), Commit: new(s.commit)}
}
