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

// applier applies committed entries to the state machine in log order, in
// its own goroutine, and answers the proposers waiting for them.
type applier struct {
	s     *Server
	queue chan applyItem
	// skipTo is the state machine's consistent index when the member
	// started: entries at or below it are already in the state machine and
	// are skipped without decoding.
	skipTo uint64
	// applied and lastSnap belong to the applier goroutine.
	applied  uint64
	lastSnap uint64

	snapshotCount uint64
	stopc         chan struct{}
	wg            sync.WaitGroup
}

func newApplier(s *Server, start, snapIndex uint64) *applier {
	return &applier{
		s:             s,
		queue:         make(chan applyItem, 1024),
		skipTo:        start,
		applied:       snapIndex,
		lastSnap:      snapIndex,
		snapshotCount: s.cfg.SnapshotCount,
		stopc:         make(chan struct{}),
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

func (a *applier) run() {
	for {
		select {
		case it := <-a.queue:
			if it.restore != nil {
				it.done <- a.restoreSnapshot(it.restore)
				continue
			}
			a.applyEntries(it.ents)
		case <-a.stopc:
			return
		}
	}
}

func (a *applier) applyEntries(ents []*raftpb.Entry) {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= a.applied {
			continue
		}
		if e.GetType() == raftpb.EntryNormal && idx > a.skipTo && len(e.GetData()) > 0 {
			a.applyNormal(idx, e.GetData())
		}
		a.applied = idx
	}
	a.s.applied.advance(a.applied)
	if a.applied-a.lastSnap >= a.snapshotCount {
		// The state machine must hold everything up to the snapshot index
		// durably before the log may forget it.
		if err := a.s.kv.Commit(); err != nil {
			a.s.fatal(fmt.Errorf("commit state machine for snapshot at %d: %w", a.applied, err))
			return
		}
		a.lastSnap = a.applied
		a.s.node.requestSnapshot(a.applied)
	}
}

func (a *applier) applyNormal(idx uint64, data []byte) {
	req := &pb.InternalRaftRequest{}
	if err := unmarshal(data, req); err != nil {
		// Every member decodes the same bytes: a failure here is a broken
		// invariant (a corrupt log that passed its checksums).
		a.s.fatal(fmt.Errorf("decode entry %d: %w", idx, err))
		return
	}
	resp, err := a.s.applyRequest(idx, req)
	if errors.Is(err, mvcc.ErrAlreadyApplied) {
		return
	}
	a.s.waits.trigger(req.GetID(), result{resp: resp, err: err})
}

func (a *applier) restoreSnapshot(snap *raftpb.Snapshot) error {
	if err := a.s.kv.Restore(bytes.NewReader(snap.GetData())); err != nil {
		return err
	}
	idx := snap.GetMetadata().GetIndex()
	if ci := a.s.kv.ConsistentIndex(); ci > idx {
		idx = ci
	}
	a.skipTo = a.s.kv.ConsistentIndex()
	a.applied = idx
	a.lastSnap = idx
	a.s.lessor.reload(a.s.kv.Leases())
	a.s.applied.advance(idx)
	return nil
}

// applyRequest applies one decoded request. Lease bookkeeping that must
// follow the state machine (expiry timers) is updated after it succeeds.
func (s *Server) applyRequest(idx uint64, req *pb.InternalRaftRequest) (proto.Message, error) {
	switch {
	case req.GetClusterMemberAttrSet() != nil:
		resp, err := s.kv.Apply(idx, req)
		if err == nil {
			s.members.setAttrs(req.GetClusterMemberAttrSet())
		}
		return resp, err
	case req.GetLeaseGrant() != nil:
		resp, err := s.kv.Apply(idx, req)
		if err == nil {
			g := req.GetLeaseGrant()
			s.lessor.grant(g.GetID(), g.GetTTL())
		}
		return resp, err
	case req.GetLeaseRevoke() != nil:
		resp, err := s.kv.Apply(idx, req)
		if err == nil || errors.Is(err, mvcc.ErrLeaseNotFound) {
			s.lessor.revoke(req.GetLeaseRevoke().GetID())
		}
		return resp, err
	}
	return s.kv.Apply(idx, req)
}
