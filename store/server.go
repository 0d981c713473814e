package store

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/store/transport"
)

// Server is one member of the cluster: raft node, log backend, state
// machine, watch hub, lessor, and the client API. It assembles the parts
// and owns their lifecycle; the parts know only what they use.
type Server struct {
	cfg        Config
	log        *slog.Logger
	id         uint64
	clusterID  uint64
	reqTimeout time.Duration

	state   *memberState
	core    *core
	api     *clientAPI
	peers   *peerConns
	checker *corruptionChecker

	failure  *failure
	stopOnce sync.Once
	// stopCtx is cancelled when the server stops, for its own requests.
	stopCtx    context.Context
	cancelStop context.CancelFunc
	stopc      chan struct{}
	donec      chan struct{}
	wg         sync.WaitGroup
}

// Option changes how a server is assembled, for tests and the harness.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	transport    func(id, clusterID uint64, r transport.Raft) (transport.Transport, error)
	clientListen net.Listener
	// afterBootStep and beforeCommit are test seams: see stateDeps.
	afterBootStep func(bootStep)
	beforeCommit  func() error
}

// WithLogger sets where the server logs; the default discards debug output
// and writes warnings to stderr.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTransport replaces the TCP peer transport (e.g. with an in-process
// network). The peer URLs of the configuration then only name members.
func WithTransport(f func(id, clusterID uint64, r transport.Raft) (transport.Transport, error)) Option {
	return func(o *options) { o.transport = f }
}

// WithClientListener serves the client API on l instead of listening on
// the first --listen-client-urls address.
func WithClientListener(l net.Listener) Option { return func(o *options) { o.clientListen = l } }

func resolveOptions(opts []Option) options {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return o
}

// NewServer opens (or creates) the member's data and starts serving, in
// four steps: open the member's state (identity check, log backend, state
// machine, watch hub, lessor), build the replicated core (applier, raft
// node and peer transport, reads, proposals), build the client API, start.
// If a step fails, what the earlier ones opened is closed.
func NewServer(cfg Config, backends *logbackends.Registry, opts ...Option) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := resolveOptions(opts)
	log := o.logger.With("member", cfg.Name)
	if cfg, err = resolveTLS(cfg, log); err != nil {
		return nil, err
	}
	if o.transport == nil {
		o.transport = func(id, cluster uint64, r transport.Raft) (transport.Transport, error) {
			return tcpTransport(cfg, id, cluster, r, log)
		}
	}
	mems := newMembers(cfg.InitialCluster, cfg.InitialClusterToken)
	ident := identityOf(cfg, mems)
	var undo []func() error
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				_ = undo[i]()
			}
		}
	}()

	state, err := openState(cfg, ident, mems, stateDeps{
		backends:     backends,
		log:          log,
		afterStep:    o.afterBootStep,
		beforeCommit: o.beforeCommit,
	})
	if err != nil {
		return nil, err
	}
	undo = append(undo, state.close)

	fail := newFailure(log)
	c, err := newCore(cfg, ident.member, state, coreDeps{
		newTransport: func(r transport.Raft) (transport.Transport, error) {
			return o.transport(ident.member, ident.cluster, r)
		},
		fatal: fail.fatal,
		log:   log,
	})
	if err != nil {
		return nil, err
	}
	undo = append(undo, c.node.stop)

	stopc := make(chan struct{})
	api, peers, err := newFrontend(cfg, o.clientListen, ident, state, c, stopc, log)
	if err != nil {
		return nil, err
	}
	undo = append(undo, api.close, func() error { peers.close(); return nil })

	checker := &corruptionChecker{id: ident.member, kv: state.kv, members: state.members, peers: peers, log: log, timeout: requestTimeout(cfg)}
	if cfg.InitialCorruptCheck {
		// Before raft replays anything: the database as the member left it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout(cfg))
		err := checker.initialCheck(ctx)
		cancel()
		if err != nil {
			return nil, err
		}
	}

	stopCtx, cancelStop := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        log,
		id:         ident.member,
		clusterID:  ident.cluster,
		reqTimeout: requestTimeout(cfg),
		state:      state,
		core:       c,
		api:        api,
		peers:      peers,
		checker:    checker,
		failure:    fail,
		stopCtx:    stopCtx,
		cancelStop: cancelStop,
		stopc:      stopc,
		donec:      make(chan struct{}),
	}
	s.start()
	return s, nil
}

// requestTimeout bounds how long a request waits for raft: long enough to
// ride out an election.
func requestTimeout(cfg Config) time.Duration { return 5*time.Second + 2*cfg.ElectionTimeout }

// start runs every part: the applier before the raft loop that feeds it,
// the API after them, and last the goroutine that closes the member on a
// fatal error, so that a fatal error raised as soon as the raft loop runs
// (a leader's heartbeat beyond an empty log) closes a member whose parts
// have all started.
func (s *Server) start() {
	s.core.start()
	s.api.start()
	s.wg.Add(2)
	go s.publishAttributes()
	go s.expireLeases()
	if s.cfg.CorruptCheckTime > 0 {
		s.wg.Add(1)
		go s.checkCorruption()
	}
	go s.stopOnFatal()
}

// tcpTransport builds the peer transport: with peer TLS if configured,
// frames bounded by the largest message raft sends with this
// configuration, snapshots by the largest database, and connections
// closed after five election timeouts of silence (the dialler's
// keep-alives hold an idle link).
func tcpTransport(cfg Config, id, cluster uint64, r transport.Raft, log *slog.Logger) (transport.Transport, error) {
	serverTLS, clientTLS, err := peerTLS(cfg)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.ListenPeerURLs[0])
	if err != nil {
		return nil, fmt.Errorf("--listen-peer-urls: %w", err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("--listen-peer-urls: %w", err)
	}
	peers := map[uint64][]string{}
	for _, m := range cfg.InitialCluster {
		pid := memberID(m.PeerURLs, cfg.InitialClusterToken)
		if pid != id {
			peers[pid] = m.PeerURLs
		}
	}
	t, err := transport.NewTCP(transport.TCPConfig{
		ID:               id,
		ClusterID:        cluster,
		Listener:         ln,
		Peers:            peers,
		Raft:             r,
		MaxMessageBytes:  transport.MessageBound(maxSizePerMsg, int64(cfg.MaxRequestBytes)),
		MaxSnapshotBytes: maxSnapshotBytes(cfg.QuotaBackendBytes),
		IdleTimeout:      5 * cfg.ElectionTimeout,
		ServerTLS:        serverTLS,
		ClientTLS:        clientTLS,
		OnError: func(peer uint64, err error) {
			log.Debug("peer transport", "peer", fmt.Sprintf("%x", peer), "err", err)
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	warnPeerPort(cfg, log)
	return t, nil
}

// maxSnapshotBytes bounds a snapshot message: the database, which can
// outgrow the quota by what is written before the NOSPACE alarm stops
// writes (a quarter is ample), plus the message around it.
func maxSnapshotBytes(quota int64) int64 {
	return min(quota+quota/4+1<<20, transport.MaxFrameBytes)
}

// ID returns the member's id.
func (s *Server) ID() uint64 { return s.id }

// ClusterID returns the cluster's id.
func (s *Server) ClusterID() uint64 { return s.clusterID }

// Leader returns the id of the leader this member knows, or 0.
func (s *Server) Leader() uint64 { return s.core.node.status.leader() }

// ClientAddr returns the address the client API listens on.
func (s *Server) ClientAddr() string { return s.api.addr() }

// Transport returns the member's peer transport (for fault injection).
func (s *Server) Transport() transport.Transport { return s.core.node.transport }

// BackendStats returns the log backend's counters.
func (s *Server) BackendStats() logbackends.Stats { return s.state.backend.Stats() }

// Done is closed when the server has stopped, on Close or on a fatal error.
func (s *Server) Done() <-chan struct{} { return s.donec }

// Err returns the fatal error that stopped the server, if any.
func (s *Server) Err() error { return s.failure.get() }

// stopOnFatal closes the member after a fatal error, or once its state
// machine failed: a commit of the database can fail with no entry being
// applied, and the member must not serve reads from a state machine whose
// file lost writes.
func (s *Server) stopOnFatal() {
	select {
	case <-s.failure.fatalc:
		s.Close()
	case <-s.state.kv.Failed():
		s.failure.fatal(fmt.Errorf("%w: %w", ErrStateMachineFailed, s.state.kv.Err()))
		s.Close()
	case <-s.stopc:
	}
}

// Close stops the member. Acknowledged writes stay as durable as the log
// backend promises.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		close(s.stopc)
		s.cancelStop()
		s.api.close()
		s.core.reads.stop()
		s.wg.Wait()
		_ = s.core.node.stop()
		s.core.applier.stop()
		s.core.waits.failAll(ErrStopped)
		s.peers.close()
		if err := s.state.close(); err != nil {
			s.failure.record(err)
		}
		close(s.donec)
	})
	<-s.donec
	return s.Err()
}

// failure keeps the first error that stopped a member and signals a fatal
// one: an error the member cannot continue from, such as a log write that
// failed, where going on could acknowledge writes it cannot keep.
type failure struct {
	log    *slog.Logger
	mu     sync.Mutex
	err    error
	once   sync.Once
	fatalc chan struct{} // closed by the first fatal error
}

func newFailure(log *slog.Logger) *failure {
	return &failure{log: log, fatalc: make(chan struct{})}
}

// fatal records err and has the member stop. It never blocks.
func (f *failure) fatal(err error) {
	f.record(err)
	f.log.Error("stopping member", "err", err)
	f.once.Do(func() { close(f.fatalc) })
}

// record keeps err unless an earlier error is kept.
func (f *failure) record(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// publishAttributes records this member's name and client URLs in the
// cluster through raft, as etcd does, so that every member can list them
// and forward lease requests to the leader.
func (s *Server) publishAttributes() {
	defer s.wg.Done()
	req := &pb.InternalRaftRequest{ClusterMemberAttrSet: &membershippb.ClusterMemberAttrSetRequest{
		Member_ID: s.id,
		MemberAttributes: &membershippb.Attributes{
			Name:       s.cfg.Name,
			ClientUrls: s.cfg.AdvertiseClientURLs,
		},
	}}
	for {
		ctx, cancel := context.WithTimeout(s.stopCtx, s.reqTimeout)
		_, err := s.core.proposer.propose(ctx, req)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.stopc:
			return
		case <-time.After(s.cfg.HeartbeatInterval * 5):
		}
	}
}

// expireLeases has the leader revoke leases whose TTL ran out.
func (s *Server) expireLeases() {
	defer s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		for _, id := range s.state.lessor.expired(500, 3*time.Second) {
			s.wg.Add(1)
			go func(id int64) {
				defer s.wg.Done()
				ctx, cancel := context.WithTimeout(s.stopCtx, s.reqTimeout)
				defer cancel()
				_, _ = s.core.proposer.propose(ctx, &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
			}(id)
		}
	}
}

// checkCorruption runs the periodic corruption check while this member
// leads, and raises a CORRUPT alarm through raft for the first member it
// finds out of line, as etcd does: every member then refuses writes
// until the alarm is disarmed.
func (s *Server) checkCorruption() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CorruptCheckTime)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		if !s.core.node.status.isLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(s.stopCtx, s.reqTimeout)
		found, err := s.checker.periodicCheck(ctx, s.core.reads.read)
		if err != nil {
			s.log.Warn("corruption check", "err", err)
		}
		for _, m := range found {
			s.log.Error("corruption check: a member's key space is out of line", "member", fmt.Sprintf("%x", m.member), "found", m.why)
		}
		if len(found) > 0 {
			_, err := s.core.proposer.propose(ctx, &pb.InternalRaftRequest{Alarm: &pb.AlarmRequest{
				Action: pb.AlarmRequest_ACTIVATE, MemberID: found[0].member, Alarm: pb.AlarmType_CORRUPT,
			}})
			if err != nil {
				s.log.Error("corruption check: raise the CORRUPT alarm", "member", fmt.Sprintf("%x", found[0].member), "err", err)
			}
		}
		cancel()
	}
}
