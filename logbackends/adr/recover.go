package adrlog

import (
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// overlay is what the ring's records say about the log, to lay over the
// disk's: the final entries from index lo on, and the last HardState.
type overlay struct {
	lo   uint64 // first index the records determine; 0: they hold no entries
	ents []*raftpb.Entry
	hs   *raftpb.HardState
}

// overlayOf computes the overlay of the ring's records, a contiguous run
// of Saves j..n in order (the ring's HEAD..TAIL).
//
// The disk holds the Saves up to some k with j-1 <= k <= n (the drainer
// releases ring space only after a disk sync covers it, and drains only
// what the ring published), possibly with part of Save k+1 after them, so
// replaying the records on top of it would repeat Saves: with overwrites,
// a repeated Save can cut the log short before a later one extends it
// again, leaving a gap. The overlay does not repeat anything: the final
// value of index i is set by the last Save whose first index is at or
// below i, so going backwards each Save contributes its entries below the
// smallest first index of the Saves after it, and everything from the
// smallest first index of them all (lo) is determined by the records
// alone. Below lo the disk is right whatever k is, because Saves j..k
// touched nothing below lo.
func overlayOf(recs []savedRecord) (overlay, error) {
	var o overlay
	var groups [][]*raftpb.Entry
	lo := ^uint64(0)
	for s := len(recs) - 1; s >= 0; s-- {
		r := recs[s]
		if o.hs == nil && r.hs != nil {
			o.hs = r.hs
		}
		if len(r.ents) == 0 {
			continue
		}
		a := r.ents[0].GetIndex()
		if a < lo {
			n := min(uint64(len(r.ents)), lo-a)
			groups = append(groups, r.ents[:n])
			lo = a
		}
	}
	if len(groups) == 0 {
		return o, nil
	}
	o.lo = lo
	for g := len(groups) - 1; g >= 0; g-- {
		for _, e := range groups[g] {
			if want := lo + uint64(len(o.ents)); e.GetIndex() != want {
				return o, fmt.Errorf("%w: ring records leave a hole: entry %d where %d belongs", logbackends.ErrCorrupt, e.GetIndex(), want)
			}
			o.ents = append(o.ents, e)
		}
	}
	return o, nil
}
