package store

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// proposalStats counts what happened to this member's proposals; /metrics
// reads them.
type proposalStats struct {
	failed  atomic.Uint64
	pending atomic.Int64
}

// proposer puts requests through raft and waits for their results.
type proposer struct {
	ids   *idGenerator
	waits *waitList
	// submit queues a proposal in the raft loop.
	submit   func(context.Context, proposal) error
	maxBytes int
	timeout  time.Duration
	stats    *proposalStats
}

// propose puts a request through raft and waits until this member has
// applied it, returning what applying it produced.
func (p *proposer) propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error) {
	id := p.ids.next()
	req.ID = id
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	if len(data) > p.maxBytes {
		return nil, ErrTooLarge
	}
	ch := p.waits.register(id)
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	p.stats.pending.Add(1)
	defer p.stats.pending.Add(-1)
	err = p.submit(cctx, proposal{data: data, id: id})
	if err != nil {
		p.waits.cancel(id)
		p.stats.failed.Add(1)
		return nil, waitErr(ctx, err)
	}
	// No select on the server's stop channel here: a thousand waiting
	// requests would all contend on its lock. Close answers every waiter
	// with ErrStopped through the wait list instead.
	select {
	case r := <-ch:
		if r.err != nil && (errors.Is(r.err, ErrNoLeader) || errors.Is(r.err, ErrStopped)) {
			p.stats.failed.Add(1)
		}
		return r.resp, r.err
	case <-cctx.Done():
		p.waits.cancel(id)
		p.stats.failed.Add(1)
		return nil, waitErr(ctx, cctx.Err())
	}
}

// waitErr tells a client's own cancellation from our timeout.
func waitErr(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return err
}
