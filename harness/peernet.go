package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/proccluster"
)

// peerNet cuts the peer links of a process or etcd cluster at the proxies
// in front of the members' peer ports. A proxy knows the members by the id
// each connection's first bytes carry (see Proxy), so peerNet learns every
// member's id once, from its status, while all of them run.
type peerNet struct {
	proxies []*Proxy // by member index
	ids     []uint64 // by member index

	mu sync.Mutex // one cut at a time, so the proxies agree
}

// newPeerNet finds member i's proxy among proxies (by the peer URL the
// member advertises) and asks every member for its id.
func newPeerNet(ctx context.Context, pc *proccluster.Cluster, proxies []*Proxy) (*peerNet, error) {
	n := &peerNet{}
	for _, m := range pc.Members() {
		i := slices.IndexFunc(proxies, func(p *Proxy) bool { return strings.HasSuffix(m.AdvertisePeerURL(), "://"+p.Addr()) })
		if i < 0 {
			return nil, fmt.Errorf("no peer proxy in front of %s (%s)", m.Name(), m.AdvertisePeerURL())
		}
		n.proxies = append(n.proxies, proxies[i])
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: pc.Endpoints(), TLS: pc.Member(0).ClientTLS(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("member ids: %w", err)
	}
	defer cli.Close()
	for _, m := range pc.Members() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cli.Status(sctx, m.Endpoint())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("member id of %s: %w", m.Name(), err)
		}
		n.ids = append(n.ids, st.Header.MemberId)
	}
	return n, nil
}

// cut drops the bytes of every link in links, at the proxies. Bytes from
// a to b travel on connections through b's proxy that a dialled (as what a
// sends) and on connections through a's proxy that b dialled (as a's
// answers), so a link is cut at both.
func (n *peerNet) cut(links []Link) error {
	size := len(n.proxies)
	in := make([][]uint64, size)
	out := make([][]uint64, size)
	for _, l := range links {
		if err := checkMember(l.From, size); err != nil {
			return err
		}
		if err := checkMember(l.To, size); err != nil {
			return err
		}
		if l.From == l.To {
			return fmt.Errorf("%w: link from member %d to itself", ErrConfig, l.From)
		}
		in[l.To] = append(in[l.To], n.ids[l.From])
		out[l.From] = append(out[l.From], n.ids[l.To])
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, p := range n.proxies {
		p.Cut(in[i], out[i])
	}
	return nil
}
