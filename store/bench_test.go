package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/transport"
)

// benchValueSize is the value size of every put the store benchmarks
// write, the harness's default.
const benchValueSize = 256

// benchKeys is how many distinct keys the store benchmarks cycle through,
// so that a long run overwrites keys instead of growing one key's history
// or the key index without bound.
const benchKeys = 4096

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%08d", i%benchKeys) }

// kvServerOf builds the KV service of s from s's own parts, as
// newFrontend does, so that a benchmark can call its Put handler without
// a gRPC connection in between.
func kvServerOf(b *testing.B, s *Server) *kvServer {
	b.Helper()
	provider, err := newTokenProvider(s.cfg, s.core)
	if err != nil {
		b.Fatal(err)
	}
	return &kvServer{
		kv:        s.state.kv,
		reads:     s.core.reads,
		proposer:  s.core.proposer,
		headers:   headers{clusterID: s.clusterID, memberID: s.id, status: s.core.node.status, rev: s.state.kv.Rev},
		maxTxnOps: s.cfg.MaxTxnOps,
		auth:      &authenticator{kv: s.state.kv, tokens: provider, certUsers: s.cfg.ClientTLS.ClientCertAuth},
	}
}

// BenchmarkProposeApply measures one put on the leader's KV Put handler,
// from the call to its answer: proposed with a request id, replicated
// over the in-process network, saved by the log backend on every member,
// applied to the state machine and answered. One op is one acknowledged
// put; with clients=16, sixteen goroutines put at once, so the loop
// batches their proposals. entries/Ready is how many log entries the
// leader's log backend was given per Save (one Save per Ready), and
// syncs/op how many syncs it made per put. Every member runs in this
// process, so B/op and allocs/op count the followers' work too.
func BenchmarkProposeApply(b *testing.B) {
	for _, members := range []int{1, 3} {
		for _, backend := range []string{"memory", "batched"} {
			for _, clients := range []int{1, 16} {
				name := fmt.Sprintf("members=%d/backend=%s/clients=%d", members, backend, clients)
				b.Run(name, func(b *testing.B) { benchProposeApply(b, members, backend, clients) })
			}
		}
	}
}

func benchProposeApply(b *testing.B, members int, backend string, clients int) {
	c := newTestCluster(b, members, clusterOpts{backend: backend})
	leader := c.members[c.leader()]
	kv := kvServerOf(b, leader)
	ctx := context.Background()
	value := make([]byte, benchValueSize)
	put := func(i int) error {
		resp, err := kv.Put(ctx, &pb.PutRequest{Key: benchKey(i), Value: value})
		if err != nil {
			return err
		}
		if resp.GetHeader().GetRevision() == 0 {
			return fmt.Errorf("put %d answered without a revision", i)
		}
		return nil
	}
	// One put first, so that the leader has committed an entry of its
	// term and the applier is running before the clock starts.
	if err := put(0); err != nil {
		b.Fatal(err)
	}
	before := leader.BackendStats()
	b.ReportAllocs()
	b.ResetTimer()
	if clients == 1 {
		for i := range b.N {
			if err := put(i); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next atomic.Int64
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((clients + procs - 1) / procs)
		b.RunParallel(func(p *testing.PB) {
			for p.Next() {
				if err := put(int(next.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	after := leader.BackendStats()
	if saves := after.Saves - before.Saves; saves > 0 {
		b.ReportMetric(float64(after.EntriesSaved-before.EntriesSaved)/float64(saves), "entries/Ready")
	}
	b.ReportMetric(float64(after.Syncs-before.Syncs)/float64(b.N), "syncs/op")
	c.close()
}

// ackingPeers stands in for the peer transport of the member under test
// in BenchmarkReady. Send encodes each message as the TCP transport
// frames it (a four-byte big-endian length, then the protobuf message)
// into one reused buffer, then has the follower it is addressed to answer
// at once, as a follower with an instant disk and network would: votes are
// granted, appends acknowledged up to their last entry, heartbeats
// returned; anything else (a follower's acknowledgements to its leader
// among them) goes unanswered. Answers go back through the node's
// Process, the way inbound messages from the network arrive. Only the
// loop sends here: no snapshot is ever sent, whose message would be sent
// from a goroutine of its own. It keeps no log of its own: the
// leader's probe after its election lands on the bootstrap entries every
// member shares, and from then on every append follows the last.
type ackingPeers struct {
	raft  transport.Raft
	frame []byte
	sent  uint64
	bytes uint64
	err   error
}

func (p *ackingPeers) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		var err error
		p.frame, err = proto.MarshalOptions{}.MarshalAppend(append(p.frame[:0], 0, 0, 0, 0), m)
		if err != nil {
			p.fail(fmt.Errorf("encode %s to %x: %w", m.GetType(), m.GetTo(), err))
			continue
		}
		binary.BigEndian.PutUint32(p.frame, uint32(len(p.frame)-4))
		p.sent++
		p.bytes += uint64(len(p.frame))
		if a := answer(m); a != nil {
			if err := p.raft.Process(context.Background(), a); err != nil {
				p.fail(fmt.Errorf("answer %s from %x: %w", m.GetType(), m.GetTo(), err))
			}
		}
	}
}

func (p *ackingPeers) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *ackingPeers) AddPeer(uint64, []string) error           { return nil }
func (p *ackingPeers) RemovePeer(uint64)                        {}
func (p *ackingPeers) SetLinkFault(uint64, transport.LinkFault) {}
func (p *ackingPeers) Stats() transport.Stats                   { return transport.Stats{} }
func (p *ackingPeers) Close() error                             { return nil }

// answer is what a follower that agrees with everything replies to m, or
// nil for a message that needs no reply.
func answer(m *raftpb.Message) *raftpb.Message {
	a := &raftpb.Message{From: new(m.GetTo()), To: new(m.GetFrom()), Term: new(m.GetTerm())}
	switch m.GetType() {
	case raftpb.MsgPreVote:
		a.Type = raftpb.MsgPreVoteResp.Enum()
	case raftpb.MsgVote:
		a.Type = raftpb.MsgVoteResp.Enum()
	case raftpb.MsgApp:
		a.Type = raftpb.MsgAppResp.Enum()
		a.Index = new(m.GetIndex() + uint64(len(m.GetEntries())))
	case raftpb.MsgHeartbeat:
		a.Type = raftpb.MsgHeartbeatResp.Enum()
		a.Context = m.GetContext()
	default:
		return nil
	}
	return a
}

// readyBench is one member's core (raft node, applier, proposals) on its
// own state, with ackingPeers as its transport and the benchmark as its
// Ready loop: the node's loop goroutine is never started.
type readyBench struct {
	core  *core
	peers *ackingPeers
	// others are the other members' ids.
	others  []uint64
	readies uint64
	fatal   atomic.Pointer[error]
}

func newReadyBench(b *testing.B, members int, backend string) *readyBench {
	b.Helper()
	var initial []Member
	for i := range members {
		initial = append(initial, Member{Name: fmt.Sprintf("m%d", i), PeerURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", 12380+i)}})
	}
	cfg := DefaultConfig()
	cfg.Name = initial[0].Name
	cfg.DataDir = filepath.Join(b.TempDir(), cfg.Name)
	cfg.ListenPeerURLs = initial[0].PeerURLs
	cfg.AdvertisePeerURLs = initial[0].PeerURLs
	cfg.ListenClientURLs = []string{"http://127.0.0.1:2379"}
	cfg.AdvertiseClientURLs = cfg.ListenClientURLs
	cfg.InitialCluster = initial
	cfg.LogBackend = backend
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mems := newMembers(cfg.InitialCluster, cfg.InitialClusterToken)
	ident := identityOf(cfg, mems)
	st, err := openState(cfg, ident, mems, stateDeps{backends: testRegistry(), log: log})
	if err != nil {
		b.Fatal(err)
	}
	rb := &readyBench{peers: &ackingPeers{}}
	for _, id := range mems.ids() {
		if id != ident.member {
			rb.others = append(rb.others, id)
		}
	}
	rb.core, err = newCore(cfg, ident.member, st, coreDeps{
		newTransport: func(r transport.Raft) (transport.Transport, error) {
			rb.peers.raft = r
			return rb.peers, nil
		},
		fatal: func(err error) { rb.fatal.CompareAndSwap(nil, &err) },
		log:   log,
	})
	if err != nil {
		_ = st.close()
		b.Fatal(err)
	}
	rb.core.applier.start()
	b.Cleanup(func() {
		rb.core.applier.stop()
		if err := rb.core.node.stop(); err != nil {
			b.Error(err)
		}
		if err := st.close(); err != nil {
			b.Error(err)
		}
	})
	// Raft learns the membership from the bootstrap entries, which the
	// first Ready hands back committed.
	if err := rb.pump(); err != nil {
		b.Fatal(err)
	}
	return rb
}

// lead makes the member the leader: it campaigns, the acking peers vote
// for it, and its first entry of the new term is applied.
func (rb *readyBench) lead(b *testing.B) {
	b.Helper()
	n := rb.core.node
	if err := n.rn.Campaign(); err != nil {
		b.Fatal(err)
	}
	if err := rb.pump(); err != nil {
		b.Fatal(err)
	}
	if !n.status.isLeader() {
		b.Fatalf("member %x did not win its election against %d acking peers", n.id, len(rb.others))
	}
	<-rb.core.applied.wait(n.status.commit.Load())
}

// followerTerm is the term of the leader a follower in BenchmarkReady
// follows; the bootstrap entries are at term 1.
const followerTerm = 2

// follow makes the member follow rb.others[0] at followerTerm, which
// opens its term with an empty entry after the bootstrap, and returns the
// log's last index.
func (rb *readyBench) follow(b *testing.B) uint64 {
	b.Helper()
	n := rb.core.node
	last, err := n.storage.LastIndex()
	if err != nil {
		b.Fatal(err)
	}
	m := rb.appendMsg(last, 1, &raftpb.Entry{Term: new(uint64(followerTerm)), Index: new(last + 1)})
	if err := n.Process(context.Background(), m); err != nil {
		b.Fatal(err)
	}
	if err := rb.pump(); err != nil {
		b.Fatal(err)
	}
	if got := n.status.leader(); got != rb.others[0] {
		b.Fatalf("member %x follows %x, want %x", n.id, got, rb.others[0])
	}
	return last + 1
}

// appendMsg is the MsgApp the leader rb.others[0] sends to append e after
// the entry at prev (of term prevTerm), with everything up to prev
// committed, as a leader pipelining appends tells its followers.
func (rb *readyBench) appendMsg(prev, prevTerm uint64, e *raftpb.Entry) *raftpb.Message {
	return &raftpb.Message{
		Type: raftpb.MsgApp.Enum(), From: new(rb.others[0]), To: new(rb.core.node.id), Term: new(uint64(followerTerm)),
		LogTerm: new(prevTerm), Index: new(prev), Commit: new(prev), Entries: []*raftpb.Entry{e},
	}
}

// pump does what the node's loop does after taking its inputs, until
// raft has nothing more: it handles every Ready, steps the followers'
// answers the Readies brought, and records a snapshot the state machine
// asked for.
func (rb *readyBench) pump() error {
	n := rb.core.node
	for {
		for n.rn.HasReady() {
			if err := n.handleReady(); err != nil {
				return err
			}
			rb.readies++
		}
		if rb.peers.err != nil {
			return rb.peers.err
		}
		select {
		case m := <-n.recvc:
			n.step(m)
			n.drainRecv()
			continue
		default:
		}
		break
	}
	select {
	case idx := <-n.sm.snapshots:
		n.pendingSnap = max(n.pendingSnap, idx)
	default:
	}
	if n.pendingSnap != 0 {
		return n.snapshot()
	}
	return nil
}

// BenchmarkReady measures the raft loop's handling of a batch of entries
// (puts of 256-byte values): every Ready the batch leads to, each saved by
// the log backend and its messages encoded for the peers, up to the
// apply of what the batch committed. One op is one batch.
//
// role=leader: the batch is one MsgProp, as the loop makes of up to
// maxBatch queued proposals; with members=3 the two followers answer at
// once (see ackingPeers), so the figures are the leader's own cost: it
// sends the batch to both followers, steps their acknowledgements and
// sends the new commit index. role=follower: the batch is as many
// MsgApps of one entry each, as a pipelining leader sends them, stepped
// from the node's inbound queue, each committing the entries before it;
// the follower saves them, then answers each. The messages are made
// inside the timed loop, as the transport's decoder would.
//
// readies/op, msgs/op and wire-B/op count the Readies handled and the
// messages and frame bytes encoded per batch.
func BenchmarkReady(b *testing.B) {
	cases := []struct {
		members int
		role    string
	}{{1, "leader"}, {3, "leader"}, {3, "follower"}}
	for _, c := range cases {
		for _, backend := range []string{"memory", "batched"} {
			for _, entries := range []int{1, 16, 256} {
				name := fmt.Sprintf("members=%d/role=%s/backend=%s/entries=%d", c.members, c.role, backend, entries)
				b.Run(name, func(b *testing.B) { benchReady(b, c.members, c.role, backend, entries) })
			}
		}
	}
}

func benchReady(b *testing.B, members int, role, backend string, entries int) {
	rb := newReadyBench(b, members, backend)
	n := rb.core.node
	data := make([][]byte, benchKeys)
	for i := range data {
		req := &pb.InternalRaftRequest{ID: uint64(i + 1), Put: &pb.PutRequest{Key: benchKey(i), Value: make([]byte, benchValueSize)}}
		var err error
		if data[i], err = proto.Marshal(req); err != nil {
			b.Fatal(err)
		}
	}
	var batch func(i int)
	switch role {
	case "leader":
		rb.lead(b)
		props := make([]proposal, entries)
		batch = func(i int) {
			for j := range props {
				k := (i*entries + j) % benchKeys
				props[j] = proposal{data: data[k], id: uint64(k + 1)}
			}
			n.proposeBatch(props)
		}
	case "follower":
		last := rb.follow(b)
		batch = func(i int) {
			for j := range entries {
				k := (i*entries + j) % benchKeys
				e := &raftpb.Entry{Term: new(uint64(followerTerm)), Index: new(last + 1), Data: data[k]}
				if err := n.Process(context.Background(), rb.appendMsg(last, followerTerm, e)); err != nil {
					b.Fatal(err)
				}
				last++
			}
		}
	default:
		b.Fatalf("unknown role %q", role)
	}
	startCommit, startReadies, startSent, startBytes := n.status.commit.Load(), rb.readies, rb.peers.sent, rb.peers.bytes
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		batch(i)
		if err := rb.pump(); err != nil {
			b.Fatal(err)
		}
		<-rb.core.applied.wait(n.status.commit.Load())
	}
	b.StopTimer()
	if err := rb.fatal.Load(); err != nil {
		b.Fatal(*err)
	}
	if got, want := n.status.commit.Load()-startCommit, uint64(b.N*entries); got != want {
		b.Fatalf("%d batches of %d entries committed %d entries, want %d", b.N, entries, got, want)
	}
	ops := float64(b.N)
	b.ReportMetric(float64(rb.readies-startReadies)/ops, "readies/op")
	b.ReportMetric(float64(rb.peers.sent-startSent)/ops, "msgs/op")
	b.ReportMetric(float64(rb.peers.bytes-startBytes)/ops, "wire-B/op")
}
