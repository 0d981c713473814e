package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Raft is what a transport delivers to: the local member's raft node.
// Its methods may be called from several goroutines at once.
type Raft interface {
	// Process hands one inbound message to raft. It may block (the
	// transport's reader for that peer then stops reading, which pushes
	// back on the sender); it must return when ctx is done.
	Process(ctx context.Context, m *raftpb.Message) error
	// ReportUnreachable tells raft that a message to id was not sent.
	ReportUnreachable(id uint64)
	// ReportSnapshot tells raft how sending a MsgSnap to id ended.
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
}

// Transport carries raft messages from this member to its peers.
type Transport interface {
	// Send queues msgs for their destinations (m.To) and returns at once;
	// it never blocks on the network. A message whose peer queue is full
	// (or whose peer cannot be reached) is dropped and ReportUnreachable is
	// called; raft retries. A dropped MsgSnap is also reported with
	// raft.SnapshotFailure, and one written out completely with
	// raft.SnapshotFinish. Messages for ids that are not peers are dropped
	// and counted in Stats.UnknownPeerDrops. The transport does not modify
	// msgs, but reads them after Send returns: the caller must not modify
	// them either (raft does not).
	Send(msgs []*raftpb.Message)
	// AddPeer makes id reachable at urls. Adding a known peer again
	// replaces its urls, which take effect at the next connection.
	AddPeer(id uint64, urls []string) error
	// RemovePeer forgets id: its queue is discarded and its connections
	// closed. Removing an unknown id does nothing.
	RemovePeer(id uint64)
	// SetLinkFault sets the faults injected on the link from this member
	// to peer (see LinkFault). The zero LinkFault removes them. Faults
	// may be set before the peer is added.
	SetLinkFault(peer uint64, f LinkFault)
	// Stats returns counters since the transport was created.
	Stats() Stats
	// Close stops every goroutine of the transport and closes its
	// connections; it returns when they have stopped. Send after Close
	// does nothing.
	Close() error
}

// LinkFault is what is injected on one direction of one link. Delay and
// Jitter model one-way latency: each message is held for Delay plus a
// uniformly drawn offset in [-Jitter, +Jitter] (never less than zero),
// but never leaves before a message sent earlier on the same link, so
// the link stays FIFO as TCP is. Messages are delayed side by side, as on
// a long wire, not one after another: the delay does not lower
// throughput. Loss is the probability that a message is silently lost
// (the sender is not told, as on a real network, except that a lost
// MsgSnap is reported with raft.SnapshotFailure so raft can retry it).
type LinkFault struct {
	Delay  time.Duration
	Jitter time.Duration
	Loss   float64
}

// IsZero reports whether f injects nothing.
func (f LinkFault) IsZero() bool { return f == LinkFault{} }

// Validate names the first bad field of f.
func (f LinkFault) Validate() error {
	switch {
	case f.Delay < 0:
		return fmt.Errorf("%w: Delay %v is negative", ErrInvalidFault, f.Delay)
	case f.Jitter < 0:
		return fmt.Errorf("%w: Jitter %v is negative", ErrInvalidFault, f.Jitter)
	case !(f.Loss >= 0 && f.Loss <= 1): // also rejects NaN
		return fmt.Errorf("%w: Loss %v is not in [0, 1]", ErrInvalidFault, f.Loss)
	}
	return nil
}

// clamped returns f with out-of-range fields brought into range, so that
// SetLinkFault, which cannot return an error, never misbehaves.
func (f LinkFault) clamped() LinkFault {
	f.Delay = max(f.Delay, 0)
	f.Jitter = max(f.Jitter, 0)
	if !(f.Loss >= 0) {
		f.Loss = 0
	}
	f.Loss = min(f.Loss, 1)
	return f
}

// Stats holds a transport's counters.
type Stats struct {
	// Peers has one entry per peer that was added, sent to or heard from.
	Peers map[uint64]PeerStats
	// UnknownPeerDrops counts messages addressed to ids that are not peers.
	UnknownPeerDrops uint64
	// Rejected counts inbound connections closed for what arrived on
	// them, by reason (RejectHandshake, RejectTooLarge, ...); TCP only.
	Rejected map[string]uint64
}

// Reasons an inbound connection is closed, the keys of Stats.Rejected.
const (
	RejectHandshake = "handshake" // a hello that is not a member's of this cluster, or none in time
	RejectTLS       = "tls"       // a TLS handshake that failed: no allowed certificate
	RejectTooLarge  = "too_large" // a frame longer than the connection's bound
	RejectMalformed = "malformed" // a frame that is not a raft message, or not one its connection carries
	RejectMisrouted = "misrouted" // a message from or to another member than the handshake named
	RejectIdle      = "idle"      // nothing arrived for IdleTimeout
	RejectOther     = "other"     // a read error of the connection itself
)

// rejectReasons lists every reason, so Stats reports each, zero or not.
var rejectReasons = [...]string{RejectHandshake, RejectTLS, RejectTooLarge, RejectMalformed, RejectMisrouted, RejectIdle, RejectOther}

// rejectCounters counts rejected connections by reason.
type rejectCounters [len(rejectReasons)]atomic.Uint64

func (r *rejectCounters) add(reason string) {
	for i, name := range rejectReasons {
		if name == reason {
			r[i].Add(1)
			return
		}
	}
}

func (r *rejectCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(rejectReasons))
	for i, name := range rejectReasons {
		m[name] = r[i].Load()
	}
	return m
}

// rejectReason names why reading a connection failed.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return RejectTooLarge
	case errors.Is(err, ErrMalformed):
		return RejectMalformed
	case errors.Is(err, ErrMisrouted):
		return RejectMisrouted
	case errors.Is(err, ErrIdle):
		return RejectIdle
	}
	return RejectOther
}

// Total sums the per-peer counters.
func (s Stats) Total() PeerStats {
	var t PeerStats
	for _, p := range s.Peers {
		t.MsgsSent += p.MsgsSent
		t.BytesSent += p.BytesSent
		t.MsgsReceived += p.MsgsReceived
		t.BytesReceived += p.BytesReceived
		t.Dropped += p.Dropped
		t.FaultDropped += p.FaultDropped
		t.Connects += p.Connects
		t.KeepAlivesReceived += p.KeepAlivesReceived
	}
	return t
}

// PeerStats counts the traffic between this member and one peer.
type PeerStats struct {
	MsgsSent      uint64 // messages written towards the peer
	BytesSent     uint64 // their encoded size, framing included
	MsgsReceived  uint64 // messages read from the peer
	BytesReceived uint64 // their encoded size, framing included
	// Dropped counts messages that were not sent and were reported with
	// ReportUnreachable: queue full, peer unreachable, too large.
	Dropped uint64
	// FaultDropped counts messages lost to an injected fault (loss or
	// partition); these are not reported to raft.
	FaultDropped uint64
	// Connects counts outbound connections established (TCP only).
	Connects uint64
	// KeepAlivesReceived counts keep-alive frames read from the peer
	// (TCP only).
	KeepAlivesReceived uint64
	// LastError is the last error seen on the link, if any.
	LastError string
}

// counters is the live form of PeerStats, updated without a shared lock.
type counters struct {
	msgsSent, bytesSent         atomic.Uint64
	msgsReceived, bytesReceived atomic.Uint64
	dropped, faultDropped       atomic.Uint64
	connects                    atomic.Uint64
	keepAlivesReceived          atomic.Uint64

	mu      sync.Mutex
	lastErr string
}

func (c *counters) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err.Error()
	c.mu.Unlock()
}

func (c *counters) snapshot() PeerStats {
	c.mu.Lock()
	lastErr := c.lastErr
	c.mu.Unlock()
	return PeerStats{
		MsgsSent:           c.msgsSent.Load(),
		BytesSent:          c.bytesSent.Load(),
		MsgsReceived:       c.msgsReceived.Load(),
		BytesReceived:      c.bytesReceived.Load(),
		Dropped:            c.dropped.Load(),
		FaultDropped:       c.faultDropped.Load(),
		Connects:           c.connects.Load(),
		KeepAlivesReceived: c.keepAlivesReceived.Load(),
		LastError:          lastErr,
	}
}

func isSnap(m *raftpb.Message) bool { return m.GetType() == raftpb.MsgSnap }
