package store

import (
	"context"
	"errors"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/adrbench/adrbench/store/mvcc"
)

// leaseServer implements etcd's Lease service. Grant and revoke go through
// raft; keep-alive and time-to-live are answered by the leader's clock, and
// followers forward them to it.
type leaseServer struct {
	pb.UnimplementedLeaseServer
	kv       *mvcc.Store
	lessor   *lessor
	ids      *idGenerator
	proposer *proposer
	headers  headers
	status   *nodeStatus
	applied  *indexWaiter
	leader   *peerConns
	auth     *authenticator
}

func (l *leaseServer) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if r.GetTTL() > maxLeaseTTL {
		return nil, rpctypes.ErrGRPCLeaseTTLTooLarge
	}
	req := &pb.LeaseGrantRequest{ID: r.GetID(), TTL: l.lessor.effectiveTTL(r.GetTTL())}
	for req.ID == 0 {
		req.ID = int64(l.ids.next())
	}
	resp, err := l.auth.propose(ctx, l.proposer, &pb.InternalRaftRequest{LeaseGrant: req})
	if err != nil {
		return nil, toGRPC(err)
	}
	gr := resp.(*pb.LeaseGrantResponse)
	gr.Header = l.headers.fill(gr.GetHeader())
	return gr, nil
}

func (l *leaseServer) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := l.auth.propose(ctx, l.proposer, &pb.InternalRaftRequest{LeaseRevoke: r})
	if err != nil {
		return nil, toGRPC(err)
	}
	rr := resp.(*pb.LeaseRevokeResponse)
	rr.Header = l.headers.fill(rr.GetHeader())
	return rr, nil
}

func (l *leaseServer) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	infos := l.kv.Leases()
	if err := l.kv.Err(); err != nil {
		return nil, toGRPC(err)
	}
	resp := &pb.LeaseLeasesResponse{Header: l.headers.fill(nil)}
	for _, in := range infos {
		resp.Leases = append(resp.Leases, &pb.LeaseStatus{ID: in.ID})
	}
	return resp, nil
}

func (l *leaseServer) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	if !l.status.isLeader() {
		c, _, err := l.leader.lease()
		if err != nil {
			return nil, toGRPC(err)
		}
		return c.LeaseTimeToLive(ctx, r)
	}
	if err := l.waitAppliedCommit(ctx); err != nil {
		return nil, toGRPC(err)
	}
	granted, left, ok := l.lessor.remaining(r.GetID())
	if !ok {
		// etcd answers an unknown or expired lease with TTL -1.
		return &pb.LeaseTimeToLiveResponse{Header: l.headers.fill(nil), ID: r.GetID(), TTL: -1}, nil
	}
	resp := &pb.LeaseTimeToLiveResponse{Header: l.headers.fill(nil), ID: r.GetID(), TTL: left, GrantedTTL: granted}
	if r.GetKeys() {
		if info, ok := l.kv.Lease(r.GetID()); ok {
			resp.Keys = info.Keys
		}
	}
	if err := l.kv.Err(); err != nil {
		return nil, toGRPC(err)
	}
	return resp, nil
}

func (l *leaseServer) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	var fwd pb.Lease_LeaseKeepAliveClient
	var fwdLeader uint64
	var cancelFwd context.CancelFunc = func() {}
	defer func() { cancelFwd() }()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var resp *pb.LeaseKeepAliveResponse
		if l.status.isLeader() {
			if err := l.waitAppliedCommit(stream.Context()); err != nil {
				return toGRPC(err)
			}
			ttl, ok := l.lessor.renew(req.GetID())
			if !ok {
				ttl = 0
			}
			resp = &pb.LeaseKeepAliveResponse{Header: l.headers.fill(nil), ID: req.GetID(), TTL: ttl}
		} else {
			c, lead, err := l.leader.lease()
			if err != nil {
				return toGRPC(err)
			}
			if fwd == nil || lead != fwdLeader {
				cancelFwd()
				ctx, cancel := context.WithCancel(stream.Context())
				cancelFwd = cancel
				fwd, err = c.LeaseKeepAlive(ctx)
				if err != nil {
					return toGRPC(err)
				}
				fwdLeader = lead
			}
			if err := fwd.Send(req); err != nil {
				fwd = nil
				return toGRPC(err)
			}
			resp, err = fwd.Recv()
			if err != nil {
				fwd = nil
				return toGRPC(err)
			}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// waitAppliedCommit waits until the leader has applied everything it knows
// to be committed, as etcd does before answering from its lessor: a grant
// or a put with a lease may be committed, and already answered by the
// member that proposed it, before the leader has applied it.
func (l *leaseServer) waitAppliedCommit(ctx context.Context) error {
	select {
	case <-l.applied.wait(l.status.commit.Load()):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
