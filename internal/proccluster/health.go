package proccluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

const (
	// pollInterval is how often the waits ask the members again.
	pollInterval = 50 * time.Millisecond
	// askTimeout bounds one question to one member, so that a member that
	// does not answer costs a round, not the wait.
	askTimeout = 2 * time.Second
	// healthKey is read linearizably to prove a member reaches a quorum.
	healthKey = "proccluster-health"
)

// WaitHealthy polls until every running member that is not paused
// answers a linearizable read (which needs a leader and a quorum) and all
// of them name the same leader, or ctx ends. A member that exits
// meanwhile fails the wait at once, with the tail of its log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ms := c.answering()
	if len(ms) == 0 {
		return fmt.Errorf("%w: no member is running", ErrNotHealthy)
	}
	return waitHealthy(ctx, ms)
}

// waitHealthy is WaitHealthy over the members ms, all started; one that
// has exited already fails the wait at once.
func waitHealthy(ctx context.Context, ms []*Member) error {
	cs := newClients()
	defer cs.close()
	return poll(ctx, ms, ErrNotHealthy, func(ctx context.Context) error {
		var leader uint64
		var leaderSeenBy string
		for _, m := range ms {
			st, err := cs.status(ctx, m, true)
			if err != nil {
				return err
			}
			if st.Leader == 0 {
				return fmt.Errorf("%s: no leader", m.name)
			}
			if leader != 0 && st.Leader != leader {
				return fmt.Errorf("%s sees leader %x, %s sees %x", m.name, st.Leader, leaderSeenBy, leader)
			}
			leader, leaderSeenBy = st.Leader, m.name
		}
		return nil
	})
}

// WaitServing polls until member i answers a status request, which it
// does once it serves clients, whether or not it has a leader or has
// caught up; or until ctx ends. A member that exits meanwhile fails the
// wait at once, with the tail of its log.
func (c *Cluster) WaitServing(ctx context.Context, i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	cs := newClients()
	defer cs.close()
	return poll(ctx, []*Member{m}, ErrNotHealthy, func(ctx context.Context) error {
		_, err := cs.status(ctx, m, false)
		return err
	})
}

// Leader polls the running members that are not paused until one says
// it leads, and returns its index; ErrNoLeader when ctx ends first, or at
// once when no member runs unpaused. Members may be killed or restarted
// meanwhile: each round asks the ones running then.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	if len(c.answering()) == 0 {
		return -1, fmt.Errorf("%w: no member is running unpaused", ErrNoLeader)
	}
	cs := newClients()
	defer cs.close()
	leader := -1
	err := poll(ctx, nil, ErrNoLeader, func(ctx context.Context) error {
		last := errors.New("no member is running")
		for i, m := range c.members {
			if !m.Running() || m.Paused() {
				continue
			}
			st, err := cs.status(ctx, m, false)
			if err != nil {
				last = err
				continue
			}
			if st.Leader != 0 && st.Leader == st.Header.MemberId {
				leader = i
				return nil
			}
			last = fmt.Errorf("%s does not lead", m.name)
		}
		return last
	})
	if err != nil {
		return -1, err
	}
	return leader, nil
}

// answering returns the members whose processes run and are not paused.
func (c *Cluster) answering() []*Member {
	var ms []*Member
	for _, m := range c.members {
		if m.Running() && !m.Paused() {
			ms = append(ms, m)
		}
	}
	return ms
}

// poll calls check every pollInterval until it returns nil, or ctx ends
// (an error wrapping notMet and check's last error). A member of watch
// that exits ends the poll at once with ErrMemberExited.
func poll(ctx context.Context, watch []*Member, notMet error, check func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, m := range watch {
		_, exited := m.live()
		if exited == nil {
			return m.exitedErr()
		}
		go func() {
			select {
			case <-exited:
				cancel(m.exitedErr())
			case <-ctx.Done():
			}
		}()
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); errors.Is(cause, ErrMemberExited) {
				return cause
			}
			return fmt.Errorf("%w: %w (last: %v)", notMet, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// clients holds one client per member for the rounds of one wait, so a
// round costs a request, not a connection.
type clients map[*Member]*clientv3.Client

func newClients() clients { return clients{} }

func (cs clients) close() {
	for _, cli := range cs {
		cli.Close()
	}
}

// client returns the client for m, made on first use.
func (cs clients) client(m *Member) (*clientv3.Client, error) {
	if cli, ok := cs[m]; ok {
		return cli, nil
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint()}, TLS: m.tls, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	cs[m] = cli
	return cli, nil
}

// status asks m for its status and, when linearizable, reads healthKey
// through it, each bounded by askTimeout.
func (cs clients) status(ctx context.Context, m *Member, linearizable bool) (*clientv3.StatusResponse, error) {
	cli, err := cs.client(m)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	st, err := cli.Status(ctx, m.Endpoint())
	if err != nil {
		return nil, fmt.Errorf("%s: status: %w", m.name, err)
	}
	if linearizable {
		if _, err := cli.Get(ctx, healthKey); err != nil {
			return nil, fmt.Errorf("%s: linearizable read: %w", m.name, err)
		}
	}
	return st, nil
}
