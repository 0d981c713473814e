package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/mvcc"
)

// applyItem is one unit of work for the applier: committed entries, or a
// snapshot to restore (with done to report back to the raft loop).
type applyItem struct {
	ents    []*raftpb.Entry
	restore *raftpb.Snapshot
	done    chan error
}

// applierDeps is what the applier applies to and whom it tells.
type applierDeps struct {
	kv      *mvcc.Store
	waits   *waitList
	lessor  *lessor
	members *members
	// applied is advanced to each index the state machine has applied.
	applied *indexWaiter
	// requestSnapshot tells the raft loop that the state machine is
	// durable up to index, so the log may record a snapshot there.
	requestSnapshot func(index uint64)
	// fatal stops the member after an error it cannot continue from.
	fatal func(error)
	// snapshotCount is how many applied entries separate two snapshots.
	snapshotCount uint64
	// tokens, if not nil, keeps the simple tokens Authenticate entries
	// assign; they follow the auth store's users.
	tokens *simpleTokens
}

// applier applies committed entries to the state machine in log order, in
// its own goroutine, and answers the proposers waiting for them.
type applier struct {
	applierDeps
	queue chan applyItem
	// skipTo is the state machine's consistent index when the member
	// started: entries at or below it are already in the state machine and
	// are skipped without decoding.
	skipTo uint64
	// appliedIndex, lastSnap and failed belong to the applier goroutine.
	appliedIndex uint64
	lastSnap     uint64
	// failed is set once the state machine failed: nothing more is
	// applied, and the applied index stays where the failure found it.
	failed bool

	stopc chan struct{}
	wg    sync.WaitGroup
}

// newApplier starts from the log's snapshot at snapIndex: raft re-delivers
// every committed entry after it, and those the state machine already holds
// (up to its consistent index) are skipped.
func newApplier(deps applierDeps, snapIndex uint64) *applier {
	deps.applied.advance(snapIndex)
	return &applier{
		applierDeps:  deps,
		queue:        make(chan applyItem, 1024),
		skipTo:       deps.kv.ConsistentIndex(),
		appliedIndex: snapIndex,
		lastSnap:     snapIndex,
		stopc:        make(chan struct{}),
	}
}

func (a *applier) start() {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.run()
	}()
}

func (a *applier) stop() {
	close(a.stopc)
	a.wg.Wait()
}

// enqueue hands committed entries to the applier. It blocks only when the
// applier is more than the queue's length behind, which pushes back on raft.
func (a *applier) enqueue(ents []*raftpb.Entry) {
	select {
	case a.queue <- applyItem{ents: ents}:
	case <-a.stopc:
	}
}

// restore waits for everything queued before it, then replaces the state
// machine with the snapshot's data.
func (a *applier) restore(snap *raftpb.Snapshot) error {
	done := make(chan error, 1)
	select {
	case a.queue <- applyItem{restore: snap, done: done}:
	case <-a.stopc:
		return ErrStopped
	}
	select {
	case err := <-done:
		return err
	case <-a.stopc:
		return ErrStopped
	}
}

// snapshotData returns the whole state machine, for a follower too far
// behind to catch up from the log, with its sha256 appended so that the
// follower can tell it arrived whole.
func (a *applier) snapshotData() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := a.kv.Snapshot(&buf); err != nil {
		return nil, err
	}
	return appendDBHash(buf.Bytes()), nil
}

func (a *applier) run() {
	for {
		select {
		case it := <-a.queue:
			switch {
			case it.restore != nil && a.failed:
				it.done <- fmt.Errorf("restore snapshot: %w", ErrStateMachineFailed)
			case it.restore != nil:
				it.done <- a.restoreSnapshot(it.restore)
			case !a.failed:
				a.applyEntries(it.ents)
			}
		case <-a.stopc:
			return
		}
	}
}

// applyEntries applies committed entries in order. Every entry advances
// the state machine's consistent index, those without a request too, so
// that it reaches every index the log may record a snapshot at. If the
// state machine fails, the member is stopped and the applied index stays
// at the last entry applied: no read may wait for an entry that is not
// in the state machine.
func (a *applier) applyEntries(ents []*raftpb.Entry) {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= a.appliedIndex {
			continue
		}
		if idx > a.skipTo {
			var err error
			if e.GetType() == raftpb.EntryNormal && len(e.GetData()) > 0 {
				err = a.applyNormal(idx, e.GetData())
			} else if err = a.kv.Skip(idx); err != nil && !errors.Is(err, mvcc.ErrAlreadyApplied) {
				err = fmt.Errorf("%w: entry %d: %w", ErrStateMachineFailed, idx, err)
			} else {
				err = nil
			}
			if err != nil {
				a.failed = true
				a.applied.advance(a.appliedIndex)
				a.fatal(err)
				return
			}
		}
		a.appliedIndex = idx
	}
	a.applied.advance(a.appliedIndex)
	if a.appliedIndex-a.lastSnap >= a.snapshotCount {
		// The state machine must hold everything up to the snapshot index
		// durably before the log may forget it.
		if err := a.kv.Commit(); err != nil {
			a.failed = true
			a.fatal(fmt.Errorf("commit state machine for snapshot at %d: %w", a.appliedIndex, err))
			return
		}
		a.lastSnap = a.appliedIndex
		a.requestSnapshot(a.appliedIndex)
	}
}

// applyNormal applies one request and answers its proposer. It returns an
// error only when the member cannot go on: the state machine failed, or
// the entry does not decode.
func (a *applier) applyNormal(idx uint64, data []byte) error {
	req := &pb.InternalRaftRequest{}
	if err := unmarshal(data, req); err != nil {
		// Every member decodes the same bytes: a failure here is a broken
		// invariant (a corrupt log that passed its checksums).
		return fmt.Errorf("decode entry %d: %w", idx, err)
	}
	resp, err := a.applyRequest(idx, req)
	switch {
	case errors.Is(err, mvcc.ErrAlreadyApplied):
		return nil
	case errors.Is(err, mvcc.ErrBackend), errors.Is(err, mvcc.ErrCorrupt), errors.Is(err, mvcc.ErrClosed):
		// The proposer learns the member stopped, not a result that
		// was never made durable.
		a.waits.trigger(req.GetID(), result{err: ErrStopped})
		return fmt.Errorf("%w: apply entry %d: %w", ErrStateMachineFailed, idx, err)
	}
	a.waits.trigger(req.GetID(), result{resp: resp, err: err})
	return nil
}

// restoreSnapshot replaces the state machine with a snapshot from the
// leader, once its hash (when the sender gave one) and its database check
// out (mvcc.Store.Restore).
func (a *applier) restoreSnapshot(snap *raftpb.Snapshot) error {
	db, err := splitDBHash(snap.GetData())
	if err != nil {
		return fmt.Errorf("snapshot at %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	if err := a.kv.Restore(bytes.NewReader(db), snap.GetMetadata().GetIndex()); err != nil {
		return err
	}
	idx := snap.GetMetadata().GetIndex()
	if ci := a.kv.ConsistentIndex(); ci > idx {
		idx = ci
	}
	a.skipTo = a.kv.ConsistentIndex()
	a.appliedIndex = idx
	a.lastSnap = idx
	a.lessor.reload(a.kv.Leases())
	a.applied.advance(idx)
	return nil
}

// applyRequest applies one decoded request. Lease bookkeeping that must
// follow the state machine (expiry timers) is updated after it succeeds.
func (a *applier) applyRequest(idx uint64, req *pb.InternalRaftRequest) (proto.Message, error) {
	switch {
	case req.GetClusterMemberAttrSet() != nil:
		resp, err := a.kv.Apply(idx, req)
		if err == nil {
			a.members.setAttrs(req.GetClusterMemberAttrSet())
		}
		return resp, err
	case req.GetLeaseGrant() != nil:
		resp, err := a.kv.Apply(idx, req)
		if err == nil {
			g := req.GetLeaseGrant()
			a.lessor.grant(g.GetID(), g.GetTTL())
		}
		return resp, err
	case req.GetLeaseRevoke() != nil:
		resp, err := a.kv.Apply(idx, req)
		if err == nil || errors.Is(err, mvcc.ErrLeaseNotFound) {
			a.lessor.revoke(req.GetLeaseRevoke().GetID())
		}
		return resp, err
	}
	resp, err := a.kv.Apply(idx, req)
	if err == nil && a.tokens != nil {
		a.applyTokens(idx, req, resp)
	}
	return resp, err
}

// applyTokens makes the simple tokens follow an auth request that
// succeeded: Authenticate assigns one; a deleted user or a changed
// password loses its tokens, and disabling authentication drops them all.
func (a *applier) applyTokens(idx uint64, req *pb.InternalRaftRequest, resp proto.Message) {
	switch {
	case req.GetAuthenticate() != nil && req.GetAuthenticate().GetSimpleToken() != "":
		r := req.GetAuthenticate()
		resp.(*pb.AuthenticateResponse).Token = a.tokens.assign(r.GetSimpleToken(), idx, r.GetName())
	case req.GetAuthUserDelete() != nil:
		a.tokens.invalidateUser(req.GetAuthUserDelete().GetName())
	case req.GetAuthUserChangePassword() != nil:
		a.tokens.invalidateUser(req.GetAuthUserChangePassword().GetName())
	case req.GetAuthDisable() != nil:
		a.tokens.clear()
	}
}

// snapshotMailbox carries the applier's snapshot requests to the raft loop.
// It holds one request; a newer one replaces an older one not yet taken, so
// the applier never waits for the loop.
type snapshotMailbox chan uint64

func newSnapshotMailbox() snapshotMailbox { return make(snapshotMailbox, 1) }

// put posts a request for a snapshot at index, keeping the higher of it
// and any request still queued.
func (m snapshotMailbox) put(index uint64) {
	for {
		select {
		case m <- index:
			return
		default:
		}
		select {
		case old := <-m:
			index = max(index, old)
		default:
		}
	}
}
