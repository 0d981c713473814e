package store

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// peerConns keeps a gRPC connection to each member whose client URLs are
// known: followers forward the requests only the leader can answer (lease
// keep-alive and time-to-live) on it, as etcd's do, and the corruption
// check asks peers for their hashes. A member that publishes another
// client URL (it restarted on another port, or was updated) gets a new
// connection; the old one is closed.
type peerConns struct {
	status  *nodeStatus
	members *members
	// tls, if set, is how members' client ports are dialled.
	tls   *tls.Config
	mu    sync.Mutex
	conns map[uint64]peerConn
}

// peerConn is a connection and the client URL it was made to.
type peerConn struct {
	url string
	cc  *grpc.ClientConn
}

func newPeerConns(status *nodeStatus, members *members, tc *tls.Config) *peerConns {
	return &peerConns{status: status, members: members, tls: tc, conns: map[uint64]peerConn{}}
}

// lease returns a Lease client for the current leader.
func (l *peerConns) lease() (pb.LeaseClient, uint64, error) {
	lead := l.status.leader()
	if lead == 0 {
		return nil, 0, ErrNoLeader
	}
	c, err := l.conn(lead)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: leader %w", ErrNoLeader, err)
	}
	return pb.NewLeaseClient(c), lead, nil
}

// maintenance returns a Maintenance client for member id.
func (l *peerConns) maintenance(id uint64) (pb.MaintenanceClient, error) {
	c, err := l.conn(id)
	if err != nil {
		return nil, err
	}
	return pb.NewMaintenanceClient(c), nil
}

// conn returns the connection to member id at the first client URL it
// has published, made on first use and made again when the URL changes.
func (l *peerConns) conn(id uint64) (*grpc.ClientConn, error) {
	urls := l.members.clientURLs(id)
	if len(urls) == 0 {
		return nil, fmt.Errorf("%x has not published its client URLs yet", id)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.conns[id]
	if ok && old.url == urls[0] {
		return old.cc, nil
	}
	u, err := url.Parse(urls[0])
	if err != nil {
		return nil, fmt.Errorf("%x client URL %q: %w", id, urls[0], err)
	}
	creds := insecure.NewCredentials()
	if l.tls != nil {
		creds = credentials.NewTLS(l.tls)
	}
	c, err := grpc.NewClient("passthrough:///"+u.Host, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	if ok {
		old.cc.Close()
	}
	l.conns[id] = peerConn{url: urls[0], cc: c}
	return c, nil
}

func (l *peerConns) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, c := range l.conns {
		c.cc.Close()
		delete(l.conns, id)
	}
}
