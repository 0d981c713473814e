package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/raft/v3"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/vfs"
	"github.com/adrbench/adrbench/store/mvcc"
	"github.com/adrbench/adrbench/store/transport"
	"github.com/adrbench/adrbench/store/watch"
)

// Server is one member of the cluster: raft node, log backend, state
// machine, watch hub, lessor, and the client API.
type Server struct {
	cfg       Config
	log       *slog.Logger
	id        uint64
	clusterID uint64
	members   *members

	backend logbackends.Backend
	kv      *mvcc.Store
	hub     *watch.Hub
	node    *raftNode
	tr      transport.Transport
	applier *applier
	lessor  *lessor
	reads   *readBatcher
	metrics *metrics

	reqIDs     *idGenerator
	waits      *waitList
	applied    indexWaiter
	reqTimeout time.Duration

	api    *clientAPI
	leader *leaderConns

	stopOnce sync.Once
	// stopCtx is cancelled when the server stops, for its own requests.
	stopCtx    context.Context
	cancelStop context.CancelFunc
	stopc      chan struct{}
	donec      chan struct{}
	errMu      sync.Mutex
	err        error
	wg         sync.WaitGroup
}

// Option changes how a server is assembled, for tests and the harness.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	transport    func(id, clusterID uint64, r transport.Raft) (transport.Transport, error)
	clientListen net.Listener
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

// identity is what a data dir records about the member that owns it.
type identity struct {
	Name      string `json:"name"`
	MemberID  string `json:"member_id"`
	ClusterID string `json:"cluster_id"`
}

// NewServer opens (or creates) the member's data and starts serving.
func NewServer(cfg Config, backends *logbackends.Registry, opts ...Option) (srv *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Server{
		cfg:        cfg,
		log:        o.logger.With("member", cfg.Name),
		members:    newMembers(cfg.InitialCluster, cfg.InitialClusterToken),
		waits:      newWaitList(),
		metrics:    &metrics{},
		reqTimeout: 5*time.Second + 2*cfg.ElectionTimeout,
		stopc:      make(chan struct{}),
		donec:      make(chan struct{}),
	}
	s.stopCtx, s.cancelStop = context.WithCancel(context.Background())
	s.id = memberID(cfg.AdvertisePeerURLs, cfg.InitialClusterToken)
	s.clusterID = clusterID(s.members.ids(), cfg.InitialClusterToken)
	s.reqIDs = newIDGenerator(s.id, time.Now())
	s.leader = newLeaderConns(s)

	// Undo whatever was opened if a later step fails.
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	memberDir := filepath.Join(cfg.DataDir, "member")
	fresh, err := s.checkIdentity(memberDir)
	if err != nil {
		return nil, err
	}
	benv := logbackends.Env{Dir: LogDir(cfg.DataDir)}
	if p, _ := cfg.diskProfile(); p.Emulated {
		benv.FS = diskprofile.Wrap(vfs.OS{}, p)
	}
	s.backend, err = backends.Open(cfg.LogBackend, benv)
	if err != nil {
		return nil, fmt.Errorf("open log backend %q: %w", cfg.LogBackend, err)
	}
	closers = append(closers, s.backend.Close)
	if err := os.MkdirAll(filepath.Join(memberDir, "snap"), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(memberDir, "snap"), err)
	}
	s.kv, err = mvcc.Open(mvcc.Config{
		Path:          filepath.Join(memberDir, "snap", "db"),
		BatchInterval: cfg.BackendBatchInterval,
		BatchLimit:    cfg.BackendBatchLimit,
		QuotaBytes:    cfg.QuotaBackendBytes,
	}, func(rev int64, evs []*mvccpb.Event) { s.hub.Notify(rev, evs) })
	if err != nil {
		return nil, fmt.Errorf("open state machine: %w", err)
	}
	closers = append(closers, s.kv.Close)
	wcfg := watch.DefaultConfig()
	wcfg.MaxResponseBytes = cfg.MaxRequestBytes
	wcfg.IsCompacted = func(err error) bool { return errors.Is(err, mvcc.ErrCompacted) }
	s.hub = watch.NewHub(s.kv, wcfg)
	closers = append(closers, func() error { s.hub.Close(); return nil })
	published, err := s.kv.Members()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	for _, m := range published {
		s.members.setAttrs(m)
	}

	s.lessor = newLessor(minLeaseTTL(cfg), time.Now)
	s.lessor.reload(s.kv.Leases())

	empty, err := logIsEmpty(s.backend)
	if err != nil {
		return nil, err
	}
	if empty && !fresh {
		return nil, fmt.Errorf("%w: %s has an identity but no raft log", ErrMemberMismatch, memberDir)
	}
	if empty && cfg.InitialClusterState == "existing" {
		return nil, fmt.Errorf("--initial-cluster-state existing: no data in %s to restart from (adding members to a running cluster is not supported)", cfg.DataDir)
	}
	s.node, err = newRaftNode(nodeConfig{
		id:              s.id,
		peers:           s.members.ids(),
		bootstrap:       empty,
		heartbeat:       cfg.HeartbeatInterval,
		electionTimeout: cfg.ElectionTimeout,
		catchUp:         cfg.SnapshotCatchUpEntries,
		applied:         s.kv.ConsistentIndex(),
	}, s.backend, s.log)
	if err != nil {
		return nil, err
	}
	snap, err := s.backend.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	s.applier = newApplier(s, s.kv.ConsistentIndex(), snap.GetMetadata().GetIndex())
	s.applied.advance(snap.GetMetadata().GetIndex())
	s.reads = newReadBatcher(s)
	s.node.applier = s.applier
	s.node.snapshotData = s.snapshotData
	s.node.onLeader = s.leaderChanged
	s.node.onReadStates = s.reads.deliver
	s.node.onFatal = s.fatal
	s.node.onRefused = func(id uint64, err error) { s.waits.trigger(id, result{err: err}) }

	if o.transport == nil {
		o.transport = s.tcpTransport
	}
	s.tr, err = o.transport(s.id, s.clusterID, s.node)
	if err != nil {
		return nil, fmt.Errorf("start peer transport: %w", err)
	}
	closers = append(closers, s.tr.Close)
	s.node.transport = s.tr

	s.api, err = newClientAPI(s, o.clientListen)
	if err != nil {
		return nil, err
	}
	closers = append(closers, s.api.close)
	if fresh {
		if err := s.writeIdentity(memberDir); err != nil {
			return nil, err
		}
	}

	s.applier.start()
	s.node.start()
	s.reads.start()
	s.api.start()
	s.wg.Add(2)
	go s.publishAttributes()
	go s.expireLeases()
	return s, nil
}

func minLeaseTTL(cfg Config) int64 {
	// etcd: a lease must outlive an election, 1.5 election timeouts.
	d := cfg.ElectionTimeout * 3 / 2
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}

func logIsEmpty(b logbackends.Backend) (bool, error) {
	hs, _, err := b.InitialState()
	if err != nil {
		return false, fmt.Errorf("read initial state: %w", err)
	}
	last, err := b.LastIndex()
	if err != nil {
		return false, fmt.Errorf("read last index: %w", err)
	}
	snap, err := b.Snapshot()
	if err != nil {
		return false, fmt.Errorf("read snapshot: %w", err)
	}
	return raft.IsEmptyHardState(hs) && last == 0 && raft.IsEmptySnap(snap), nil
}

// checkIdentity makes sure the data dir, if it has data, belongs to the
// member the flags describe. It reports whether the dir is new.
func (s *Server) checkIdentity(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("--data-dir: %w", err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("--data-dir: %w", err)
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		return false, fmt.Errorf("--data-dir: %s: %w", filepath.Join(dir, "identity.json"), err)
	}
	want := s.identity()
	if id != want {
		return false, fmt.Errorf("%w: %s holds member %s (%s) of cluster %s, the flags describe member %s (%s) of cluster %s",
			ErrMemberMismatch, dir, id.Name, id.MemberID, id.ClusterID, want.Name, want.MemberID, want.ClusterID)
	}
	return false, nil
}

func (s *Server) identity() identity {
	return identity{Name: s.cfg.Name, MemberID: fmt.Sprintf("%x", s.id), ClusterID: fmt.Sprintf("%x", s.clusterID)}
}

func (s *Server) writeIdentity(dir string) error {
	b, err := json.Marshal(s.identity())
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "identity.json.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "identity.json")); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	return vfs.OS{}.SyncDir(dir)
}

func (s *Server) tcpTransport(id, cluster uint64, r transport.Raft) (transport.Transport, error) {
	u, err := url.Parse(s.cfg.ListenPeerURLs[0])
	if err != nil {
		return nil, fmt.Errorf("--listen-peer-urls: %w", err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("--listen-peer-urls: %w", err)
	}
	peers := map[uint64][]string{}
	for _, m := range s.cfg.InitialCluster {
		pid := memberID(m.PeerURLs, s.cfg.InitialClusterToken)
		if pid != id {
			peers[pid] = m.PeerURLs
		}
	}
	t, err := transport.NewTCP(transport.TCPConfig{ID: id, ClusterID: cluster, Listener: ln, Peers: peers, Raft: r})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return t, nil
}

// ID returns the member's id.
func (s *Server) ID() uint64 { return s.id }

// ClusterID returns the cluster's id.
func (s *Server) ClusterID() uint64 { return s.clusterID }

// Leader returns the id of the leader this member knows, or 0.
func (s *Server) Leader() uint64 { return s.node.status.lead.Load() }

// ClientAddr returns the address the client API listens on.
func (s *Server) ClientAddr() string { return s.api.addr() }

// Transport returns the member's peer transport (for fault injection).
func (s *Server) Transport() transport.Transport { return s.tr }

// BackendStats returns the log backend's counters.
func (s *Server) BackendStats() logbackends.Stats { return s.backend.Stats() }

// Done is closed when the server has stopped, on Close or on a fatal error.
func (s *Server) Done() <-chan struct{} { return s.donec }

// Err returns the fatal error that stopped the server, if any.
func (s *Server) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// fatal stops the member after an error it cannot continue from, such as a
// log write that failed: going on could acknowledge writes it cannot keep.
func (s *Server) fatal(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.log.Error("stopping member", "err", err)
	go s.Close()
}

// Close stops the member. Acknowledged writes stay as durable as the log
// backend promises.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		close(s.stopc)
		s.cancelStop()
		s.api.close()
		s.reads.stop()
		s.wg.Wait()
		s.node.stop()
		s.tr.Close()
		s.applier.stop()
		s.waits.failAll(ErrStopped)
		s.leader.close()
		s.hub.Close()
		if err := s.kv.Close(); err != nil {
			s.setErr(fmt.Errorf("close state machine: %w", err))
		}
		if err := s.backend.Close(); err != nil {
			s.setErr(fmt.Errorf("close log backend: %w", err))
		}
		close(s.donec)
	})
	<-s.donec
	return s.Err()
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *Server) leaderChanged(isLeader bool) {
	if isLeader {
		s.lessor.promote(s.cfg.ElectionTimeout)
	} else {
		s.lessor.demote()
	}
}

func (s *Server) snapshotData() ([]byte, error) {
	var buf writerBuffer
	if _, err := s.kv.Snapshot(&buf); err != nil {
		return nil, err
	}
	return buf.b, nil
}

type writerBuffer struct{ b []byte }

func (w *writerBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

var _ io.Writer = (*writerBuffer)(nil)

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
		_, err := s.propose(ctx, req)
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
		for _, id := range s.lessor.expired(500, 3*time.Second) {
			s.wg.Add(1)
			go func(id int64) {
				defer s.wg.Done()
				ctx, cancel := context.WithTimeout(s.stopCtx, s.reqTimeout)
				defer cancel()
				_, _ = s.propose(ctx, &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
			}(id)
		}
	}
}
