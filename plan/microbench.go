package plan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/mvcc"
	"github.com/adrbench/adrbench/store/transport"
)

// sink is a raft end that only counts what it is handed.
type sink struct {
	n    atomic.Int64
	tick chan struct{}
}

func newSink() *sink { return &sink{tick: make(chan struct{}, 1)} }

func (s *sink) Process(context.Context, *raftpb.Message) error {
	s.n.Add(1)
	select {
	case s.tick <- struct{}{}:
	default:
	}
	return nil
}
func (s *sink) ReportUnreachable(uint64)                   {}
func (s *sink) ReportSnapshot(uint64, raft.SnapshotStatus) {}

// transportCost measures a transport's CPU per message and per byte, both
// ends together: messages of one tiny entry (per message), then messages
// of many large entries (per byte), each timed by the process's CPU until
// the receiver has them all. The two equations give both costs.
func transportCost(ctx context.Context, kind string) (msg, byt float64, err error) {
	from, to, rx, closeAll, err := transportPair(kind)
	if err != nil {
		return 0, 0, err
	}
	defer closeAll()
	type phase struct{ msgs, ents, size int }
	phases := []phase{{20000, 1, 16}, {3000, 16, 2048}}
	var cpu, bytes, count [2]float64
	for i, ph := range phases {
		c, b, err := pump(ctx, from, to, rx, ph.msgs, ph.ents, ph.size)
		if err != nil {
			return 0, 0, err
		}
		cpu[i], bytes[i], count[i] = c, b, float64(ph.msgs)
	}
	// cpu = count*msg + bytes*byte, twice.
	det := count[0]*bytes[1] - count[1]*bytes[0]
	if det == 0 {
		return 0, 0, fmt.Errorf("%w: transport phases are degenerate", ErrCalibration)
	}
	msg = (cpu[0]*bytes[1] - cpu[1]*bytes[0]) / det
	byt = (count[0]*cpu[1] - count[1]*cpu[0]) / det
	if msg < 0 || byt < 0 {
		// Noise can tip one of two small numbers below zero: charge the
		// small messages' cost per message and the rest per byte.
		msg = cpu[0] / count[0]
		byt = max(0, (cpu[1]-count[1]*msg)/bytes[1])
	}
	return msg, byt, nil
}

// pump sends n messages of ents entries of size bytes from one end to the
// other, at most a window ahead of the receiver (a transport drops what
// its queue cannot hold), and returns the CPU it took and the bytes sent.
func pump(ctx context.Context, from transport.Transport, to uint64, rx *sink, n, ents, size int) (float64, float64, error) {
	data := make([]byte, size)
	term := uint64(1)
	entries := make([]*raftpb.Entry, ents)
	typ := raftpb.EntryNormal
	for i := range entries {
		entries[i] = &raftpb.Entry{Term: &term, Index: new(uint64(i + 1)), Type: &typ, Data: data}
	}
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), To: &to, From: new(uint64(1)), Term: &term,
		LogTerm: &term, Index: new(uint64(1)), Commit: new(uint64(1)), Entries: entries}
	wire := float64(proto.Size(m))
	const chunk, window = 64, 1024
	base := rx.n.Load()
	cpu0 := processCPU()
	batch := make([]*raftpb.Message, chunk)
	for i := range batch {
		batch[i] = m
	}
	deadline := time.Now().Add(time.Minute)
	for sent := 0; sent < n; {
		for int64(sent)-(rx.n.Load()-base) > window {
			if err := waitTick(ctx, rx, deadline); err != nil {
				return 0, 0, err
			}
		}
		k := min(chunk, n-sent)
		from.Send(batch[:k])
		sent += k
	}
	for rx.n.Load()-base < int64(n) {
		if err := waitTick(ctx, rx, deadline); err != nil {
			return 0, 0, err
		}
	}
	return (processCPU() - cpu0).Seconds(), wire * float64(n), nil
}

func waitTick(ctx context.Context, rx *sink, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-rx.tick:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: the transport lost messages (received %d)", ErrCalibration, rx.n.Load())
	}
}

// transportPair connects member 1 to member 2 over the in-process network
// ("inproc") or TCP on loopback ("tcp").
func transportPair(kind string) (transport.Transport, uint64, *sink, func(), error) {
	rx := newSink()
	switch kind {
	case "inproc":
		nw := transport.NewNetwork()
		a := nw.Join(1, newSink())
		b := nw.Join(2, rx)
		if err := a.AddPeer(2, nil); err != nil {
			return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		return a, 2, rx, func() { a.Close(); b.Close() }, nil
	case "tcp":
		lnA, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		lnB, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			lnA.Close()
			return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		cfg := func(id uint64, ln net.Listener, peer uint64, peerLn net.Listener, r transport.Raft) transport.TCPConfig {
			c := transport.DefaultTCPConfig()
			c.ID, c.ClusterID, c.Listener, c.Raft = id, 7, ln, r
			c.Peers = map[uint64][]string{peer: {"http://" + peerLn.Addr().String()}}
			return c
		}
		a, err := transport.NewTCP(cfg(1, lnA, 2, lnB, newSink()))
		if err != nil {
			lnA.Close()
			lnB.Close()
			return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		b, err := transport.NewTCP(cfg(2, lnB, 1, lnA, rx))
		if err != nil {
			a.Close()
			return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		return a, 2, rx, func() { a.Close(); b.Close() }, nil
	}
	return nil, 0, nil, nil, fmt.Errorf("%w: transport %q", ErrConfig, kind)
}

// applyCost measures the state machine's CPU per put: decoding the entry
// as the applier does, then Apply, with the batch commits on their usual
// interval in the background, over n puts of keySize/valSize.
func applyCost(dir string, n, keySize, valSize int) (float64, error) {
	d, err := os.MkdirTemp(dir, "apply-")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	defer os.RemoveAll(d)
	st, err := mvcc.Open(mvcc.DefaultConfig(filepath.Join(d, "db")), nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCalibration, err)
	}
	val := make([]byte, valSize)
	encoded := make([][]byte, n)
	for i := range encoded {
		key := fmt.Appendf(nil, "%0*d", keySize, i%100000)
		req := &pb.InternalRaftRequest{ID: uint64(i + 1), Put: &pb.PutRequest{Key: key, Value: val}}
		if encoded[i], err = proto.Marshal(req); err != nil {
			st.Close()
			return 0, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
	}
	cpu0 := processCPU()
	for i, data := range encoded {
		req := &pb.InternalRaftRequest{}
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, req); err != nil {
			st.Close()
			return 0, fmt.Errorf("%w: %w", ErrCalibration, err)
		}
		if _, err := st.Apply(uint64(i+1), req); err != nil && !errors.Is(err, mvcc.ErrAlreadyApplied) {
			st.Close()
			return 0, fmt.Errorf("%w: apply: %w", ErrCalibration, err)
		}
	}
	if err := st.Commit(); err != nil {
		st.Close()
		return 0, fmt.Errorf("%w: %w", ErrCalibration, err)
	}
	cpu := (processCPU() - cpu0).Seconds()
	if err := st.Close(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCalibration, err)
	}
	return cpu / float64(n), nil
}
