package transport_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/transport"
)

// countRaft only counts what arrives, so the benchmark measures the
// transport rather than a receiver.
type countRaft struct {
	n       atomic.Int64
	changed chan struct{}
}

func (r *countRaft) Process(context.Context, *raftpb.Message) error {
	r.n.Add(1)
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}
func (r *countRaft) ReportUnreachable(uint64)                   {}
func (r *countRaft) ReportSnapshot(uint64, raft.SnapshotStatus) {}

// BenchmarkThroughput sends MsgApps carrying 256-byte entries from member
// 1 to member 2 as fast as the receiver takes them, keeping at most half a
// queue outstanding so nothing is dropped, and reports messages/s.
func BenchmarkThroughput(b *testing.B) {
	const (
		entrySize = 256
		batch     = 64
		window    = transport.DefaultQueueSize / 2
	)
	for _, kind := range []string{"tcp", "inproc"} {
		for _, entries := range []int{1, 16} {
			for _, delay := range []time.Duration{0, time.Millisecond} {
				name := fmt.Sprintf("impl=%s/entry=%d/entries=%d/delay=%v", kind, entrySize, entries, delay)
				b.Run(name, func(b *testing.B) {
					benchThroughput(b, kind, entries, entrySize, batch, window, delay)
				})
			}
		}
	}
}

func benchThroughput(b *testing.B, kind string, entries, entrySize, batch, window int, delay time.Duration) {
	recv := &countRaft{changed: make(chan struct{}, 1)}
	var a transport.Transport
	switch kind {
	case "tcp":
		lnA, lnB := listen(b), listen(b)
		a = newTCP(b, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: &countRaft{changed: make(chan struct{}, 1)},
			Peers: map[uint64][]string{2: {url(lnB)}}})
		newTCP(b, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: recv,
			Peers: map[uint64][]string{1: {url(lnA)}}})
	case "inproc":
		n := transport.NewNetwork()
		a = n.Join(1, &countRaft{changed: make(chan struct{}, 1)})
		bb := n.Join(2, recv)
		b.Cleanup(func() { _ = a.Close(); _ = bb.Close() })
	}
	a.SetLinkFault(2, transport.LinkFault{Delay: delay})

	msgs := make([]*raftpb.Message, batch)
	for i := range msgs {
		m := app(1, 2, uint64(i), nil)
		for j := range entries {
			m.Entries = append(m.Entries, &raftpb.Entry{Term: new(uint64(1)), Index: new(uint64(i*entries + j)), Data: make([]byte, entrySize)})
		}
		msgs[i] = m
	}
	b.SetBytes(int64(proto.Size(msgs[0])))
	// One message first, so the connection is up before the clock runs.
	a.Send(msgs[:1])
	for recv.n.Load() < 1 {
		<-recv.changed
	}
	recv.n.Store(0)

	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		for int64(sent)-recv.n.Load() > int64(window-batch) {
			<-recv.changed
		}
		k := min(batch, b.N-sent)
		a.Send(msgs[:k])
		sent += k
	}
	for recv.n.Load() < int64(b.N) {
		<-recv.changed
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if d := a.Stats().Peers[2].Dropped; d != 0 {
		b.Fatalf("%d messages dropped", d)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N*entries)/elapsed.Seconds(), "entries/s")
}
