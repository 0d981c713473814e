package store

import (
	"context"
	"errors"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// propose puts a request through raft and waits until this member has
// applied it, returning what applying it produced.
func (s *Server) propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error) {
	id := s.reqIDs.next()
	req.ID = id
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	if len(data) > s.cfg.MaxRequestBytes {
		return nil, ErrTooLarge
	}
	ch := s.waits.register(id)
	cctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	s.metrics.proposalsPending.Add(1)
	defer s.metrics.proposalsPending.Add(-1)
	err = s.node.propose(cctx, proposal{data: data, id: id})
	if err != nil {
		s.waits.cancel(id)
		s.metrics.proposalsFailed.Add(1)
		return nil, s.waitErr(ctx, err)
	}
	// No select on the server's stop channel here: a thousand waiting
	// requests would all contend on its lock. Close answers every waiter
	// with ErrStopped through the wait list instead.
	select {
	case r := <-ch:
		if r.err != nil && (errors.Is(r.err, ErrNoLeader) || errors.Is(r.err, ErrStopped)) {
			s.metrics.proposalsFailed.Add(1)
		}
		return r.resp, r.err
	case <-cctx.Done():
		s.waits.cancel(id)
		s.metrics.proposalsFailed.Add(1)
		return nil, s.waitErr(ctx, cctx.Err())
	}
}

// waitErr tells a client's own cancellation from our timeout.
func (s *Server) waitErr(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return err
}
