package adrlog

import (
	"errors"
	"fmt"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
)

// bindRing finds what the region holds, decides from the binding record
// whether it is this log's ring, recovers the ring's records into the
// disk log when it is, and binds a new ring for this incarnation of the
// log. A region that is not this log's ring is formatted only when
// nothing of this log can be lost and nothing of another's can be in it,
// or when reset accepts that. doc.go describes the protocol.
func (b *Backend) bindRing(reset bool) error {
	rec, err := readBinding(b.fs, b.dir)
	if err != nil {
		return err
	}
	if err := b.checkMember(rec); err != nil {
		return err
	}
	if rec != nil && b.member == 0 {
		b.cluster, b.member = rec.cluster, rec.member
	}
	disk, err := b.diskEnd()
	if err != nil {
		return err
	}
	if rec != nil && rec.state == stateClean && disk.last < rec.index {
		return fmt.Errorf("%s: %w: the disk log in %s ends at index %d, but held every entry up to %d when it was closed cleanly",
			Name, logbackends.ErrCorrupt, b.dir, disk.last, rec.index)
	}
	c := adr.Inspect(b.region)
	var prev adr.UUID
	if c.Kind == adr.ContentRing {
		prev = c.Identity.Ring
	}
	j := judge(rec, c, disk.empty, b.info.Path)
	if j.ours {
		err := b.recover()
		if err == nil {
			return b.rebind(prev)
		}
		if !errors.Is(err, adr.ErrRingCorrupt) && !errors.Is(err, logbackends.ErrCorrupt) {
			return err
		}
		j = judgement{problem: fmt.Sprintf("its ring cannot be read (%v)", err), mayLose: rec.state == stateBound}
	}
	if j.problem == "" {
		return b.rebind(prev)
	}
	if !reset {
		return b.refusal(rec, j, disk)
	}
	msg := fmt.Sprintf("--%s: region %s held %s: formatting it for the log in %s", flagRegionReset, b.info.Path, describe(c, rec), b.dir)
	if j.mayLose {
		msg += fmt.Sprintf("; entries after index %d (term %d) that only %s held are lost from this member (how many is not known without that ring: at most what %d bytes of region hold); raft brings them back from the leader if a quorum still has them",
			disk.last, disk.term, ringName(rec), b.info.Size)
	}
	b.log.Warn(msg)
	return b.rebind(prev)
}

// diskEnd is where the disk log ends when Open finds it.
type diskEnd struct {
	empty      bool // no entries, HardState or snapshot
	last, term uint64
}

// diskEnd reads it from the mirror, which is the disk log's until
// recovery lays the ring over it.
func (b *Backend) diskEnd() (diskEnd, error) {
	var d diskEnd
	hs, _, err := b.m.InitialState()
	if err != nil {
		return d, err
	}
	if d.last, err = b.m.LastIndex(); err != nil {
		return d, err
	}
	if d.term, err = b.m.Term(d.last); err != nil {
		return d, err
	}
	snap, err := b.m.Snapshot()
	if err != nil {
		return d, err
	}
	d.empty = d.last == 0 && hs.GetTerm() == 0 && hs.GetVote() == 0 && hs.GetCommit() == 0 && snap.GetMetadata().GetIndex() == 0
	return d, nil
}

// checkMember refuses a log directory bound as another member's log.
func (b *Backend) checkMember(rec *binding) error {
	if rec == nil || b.member == 0 || rec.member == 0 {
		return nil
	}
	if rec.member != b.member || rec.cluster != b.cluster {
		return fmt.Errorf("%s: %w: the log in %s is member %x's of cluster %x, this is member %x of cluster %x",
			Name, ErrLogMismatch, b.dir, rec.member, rec.cluster, b.member, b.cluster)
	}
	return nil
}

// judgement is what Open makes of the region it found.
type judgement struct {
	// ours: the region holds the ring the log is bound to.
	ours bool
	// problem, when not empty, says why the region may not be formatted
	// without --adr-region-reset.
	problem string
	// mayLose: entries of this log may be in its ring only, and are lost
	// if the region is formatted anyway.
	mayLose bool
}

// judge decides from the binding record rec (nil: none), the region's
// content c and whether the disk log is empty whether the region holds
// this log's ring, may be formatted, or neither. path is where the region
// is now.
func judge(rec *binding, c adr.Content, diskEmpty bool, path string) judgement {
	holds := "it holds " + describe(c, rec)
	if rec == nil {
		switch {
		case !diskEmpty:
			return judgement{problem: "the disk log has entries but no binding record, so the ring it was bound to is unknown (a log written by another backend or an older build)", mayLose: true}
		case c.Kind == adr.ContentZero:
			return judgement{}
		}
		return judgement{problem: "this log is new and " + holds}
	}
	isRing := func(u adr.UUID) bool { return !u.IsZero() && c.Kind == adr.ContentRing && c.Identity.Ring == u }
	if isRing(rec.ring) {
		return judgement{ours: true}
	}
	switch rec.state {
	case stateBinding:
		// Everything was on disk when the binding began: what the
		// region holds now is the ring being replaced, a format that
		// did not finish, or what the binding decided to format over.
		if isRing(rec.prev) || c.Kind == adr.ContentZero || c.Kind == adr.ContentOther && rec.region == path {
			return judgement{}
		}
		return judgement{problem: holds}
	case stateClean:
		if c.Kind == adr.ContentZero {
			return judgement{}
		}
		return judgement{problem: holds}
	}
	return judgement{problem: holds, mayLose: true}
}

// describe says what a region holds, naming a ring by whose it is.
func describe(c adr.Content, rec *binding) string {
	switch c.Kind {
	case adr.ContentZero:
		return "nothing, every byte is zero (a reboot empties an emulated region on tmpfs; a new or re-created namespace can start empty)"
	case adr.ContentRing:
		id := c.Identity
		if rec != nil && id.Member != 0 && id.Member == rec.member && id.Cluster == rec.cluster {
			return fmt.Sprintf("an older ring of this member, %s, with %d bytes of records", id.Ring, c.Used)
		}
		return fmt.Sprintf("the ring %s of member %x in cluster %x, with %d bytes of records", id.Ring, id.Member, id.Cluster, c.Used)
	}
	return fmt.Sprintf("no ring (%v)", c.Err)
}

// ringName names the ring rec binds the log to.
func ringName(rec *binding) string {
	if rec == nil {
		return "the ring it was bound to"
	}
	return "this log's ring " + rec.ring.String()
}

// refusal is the one-line error of an Open that does not format the
// region: what it holds, what may be lost, and what to do.
func (b *Backend) refusal(rec *binding, j judgement, disk diskEnd) error {
	advice := fmt.Sprintf("nothing of this log is lost, but the region is not formatted over since it may be another log's: point --%s at this log's region, remove the region, or restart with --%s to discard what it holds",
		flagRegionPath, flagRegionReset)
	if j.mayLose {
		advice = fmt.Sprintf("entries after index %d (term %d) that only %s held may be lost: if that ring is gone for good, restart with --%s to accept the loss (the member then catches up from the leader if a quorum still has them); otherwise point --%s at the region that holds it",
			disk.last, disk.term, ringName(rec), flagRegionReset, flagRegionPath)
	}
	return fmt.Errorf("%s: %w (region %s, log %s): %s; %s", Name, ErrRegionMismatch, b.info.Path, b.dir, j.problem, advice)
}

// rebind formats the region with a ring of a new id for this incarnation
// of the log: the binding record first says that a ring is being
// formatted (everything is on disk, so a crash meanwhile loses nothing
// and the next Open formats again), then the ring is formatted, then the
// record says the log is bound to it. prev is the ring the region held.
func (b *Backend) rebind(prev adr.UUID) error {
	id, err := adr.NewUUID()
	if err != nil {
		return err
	}
	last, err := b.m.LastIndex()
	if err != nil {
		return err
	}
	rec := binding{state: stateBinding, ring: id, prev: prev, cluster: b.cluster, member: b.member, index: last, region: b.info.Path}
	if b.skip != bindRecordBinding {
		if err := writeBinding(b.fs, b.dir, rec, b.skip); err != nil {
			return err
		}
	}
	ring, err := adr.FormatRing(b.region, adr.Identity{Ring: id, Cluster: b.cluster, Member: b.member, Drained: last})
	if err != nil {
		return fmt.Errorf("%s: region %s: %w", Name, b.info.Path, err)
	}
	if b.fenceCheck != nil {
		if err := b.fenceCheck.FenceErr(); err != nil {
			return fmt.Errorf("%s: format region %s: %w", Name, b.info.Path, err)
		}
	}
	if b.ring != nil {
		_ = b.ring.Close() // the ring recovered from; FormatRing replaced it
	}
	b.ring = ring
	rec.state, rec.prev = stateBound, adr.UUID{}
	if err := writeBinding(b.fs, b.dir, rec, b.skip); err != nil {
		return err
	}
	b.bound = rec
	return nil
}
