package store

import (
	"fmt"
	"net/url"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// leaderConns keeps a gRPC connection to each member whose client URLs are
// known, for the requests only the leader can answer (lease keep-alive and
// time-to-live), which followers forward as etcd's do.
type leaderConns struct {
	status  *nodeStatus
	members *members
	mu      sync.Mutex
	conns   map[uint64]*grpc.ClientConn
}

func newLeaderConns(status *nodeStatus, members *members) *leaderConns {
	return &leaderConns{status: status, members: members, conns: map[uint64]*grpc.ClientConn{}}
}

// lease returns a Lease client for the current leader.
func (l *leaderConns) lease() (pb.LeaseClient, uint64, error) {
	lead := l.status.leader()
	if lead == 0 {
		return nil, 0, ErrNoLeader
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.conns[lead]; ok {
		return pb.NewLeaseClient(c), lead, nil
	}
	urls := l.members.clientURLs(lead)
	if len(urls) == 0 {
		return nil, 0, fmt.Errorf("%w: leader %x has not published its client URLs yet", ErrNoLeader, lead)
	}
	u, err := url.Parse(urls[0])
	if err != nil {
		return nil, 0, fmt.Errorf("leader %x client URL %q: %w", lead, urls[0], err)
	}
	c, err := grpc.NewClient("passthrough:///"+u.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, 0, err
	}
	l.conns[lead] = c
	return pb.NewLeaseClient(c), lead, nil
}

func (l *leaderConns) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, c := range l.conns {
		c.Close()
		delete(l.conns, id)
	}
}
