package transport

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Wire protocol. A peer connection carries messages one way, from the
// member that dialled to the member that accepted. With peer TLS all of it
// travels inside a TLS session, set up first (tcp.go). The dialler opens
// with a hello, the acceptor answers with a reply, and from then on the
// dialler writes frames until the connection closes:
//
//	hello (32 bytes, integers big-endian)
//	  0  magic "ADRT"
//	  4  version   uint16 (2)
//	  6  kind      uint16  0 = stream, 1 = snapshot
//	  8  cluster   uint64  the dialler's cluster id
//	 16  from      uint64  the dialler's member id
//	 24  to        uint64  the member id the dialler expects to reach
//
//	reply (26 bytes + reason)
//	  0  magic "ADRT"
//	  4  version   uint16
//	  6  status    uint16  0 = accepted, else a reject code below
//	  8  cluster   uint64  the acceptor's cluster id
//	 16  id        uint64  the acceptor's member id
//	 24  reasonLen uint16, then that many bytes of text for the log
//
//	frame
//	  0  length    uint32  n, the size of the payload
//	  4  payload   n bytes: one raftpb.Message, protobuf-encoded
//
// Both ends check the cluster and member ids, so a member of another
// cluster, or a stale URL that now points at another member, is refused
// with an error that says which id was wrong. The ids are no secret (every
// client response header carries them): they keep honest members apart,
// they do not authenticate anyone; peer TLS with client certificates does.
//
// A stream connection carries every message but MsgSnap, each frame at
// most MaxMessageBytes, which the store derives from the largest message
// raft may send (see MessageBound). A frame of length 0 is a keep-alive:
// a dialler with nothing to send writes one every IdleTimeout/3, so that
// the acceptor can close a connection that stays silent for IdleTimeout.
// A snapshot connection carries one MsgSnap frame and closes; its bound,
// MaxSnapshotBytes, is the size of the largest database the member
// could be sent. Either bound is checked on the length before any of the
// payload is read, and the payload is read into a buffer that grows only
// as bytes arrive, so a length that announces gigabytes costs nothing
// until they are actually sent (and then bounded by the limit).
//
// Sending a snapshot whole costs one buffer of its size at each end while
// it is in flight; streaming it in chunks would avoid that, but raft hands
// the transport the snapshot as one message already in memory, so the
// sender gains nothing and the receiver would have to reassemble it for
// raft anyway.
const (
	magic          = "ADRT"
	version uint16 = 2

	helloSize    = 32
	replyHdrSize = 26
	frameHdrSize = 4
	maxReason    = 512

	// MaxFrameBytes is the largest payload the 32-bit length can carry.
	MaxFrameBytes = 1<<32 - 1
	// DefaultMaxMessageBytes bounds a stream frame when the configuration
	// does not: MessageBound of raft's 1 MiB MaxSizePerMsg and etcd's
	// 1.5 MiB request limit.
	DefaultMaxMessageBytes = 2*(1536<<10+entryOverhead) + messageOverhead
	// DefaultMaxSnapshotBytes leaves room for a snapshot of etcd's default
	// 2 GiB backend quota plus the message around it.
	DefaultMaxSnapshotBytes = 2<<30 + 1<<20
	// DefaultIdleTimeout closes a peer connection silent for that long:
	// ten of etcd's default election timeouts.
	DefaultIdleTimeout = 10 * time.Second
)

// Connection kinds, the hello's kind field.
const (
	kindStream   uint16 = 0
	kindSnapshot uint16 = 1
)

// entryOverhead bounds what an entry adds to its data when encoded
// (term, index, type and the field tags); messageOverhead what a message
// adds to its entries (its own fields, the commit index, a context).
const (
	entryOverhead   = 64
	messageOverhead = 64 << 10
)

// MessageBound is the largest encoded raft message (MsgSnap aside) a
// member may send, given raft's MaxSizePerMsg and the largest entry
// (data) the member proposes. Raft fills an append up to maxSizePerMsg
// bytes of entries, or sends a single larger entry alone; the entries'
// own framing inside the message (a tag and a length each, at most as
// much again as the smallest entry) at most doubles that.
func MessageBound(maxSizePerMsg, maxEntryBytes int64) int64 {
	return 2*max(maxSizePerMsg, maxEntryBytes+entryOverhead) + messageOverhead
}

// Reply status codes.
const (
	statusOK uint16 = iota
	statusVersion
	statusCluster
	statusUnknownPeer
	statusIDMismatch
)

var statusErrs = map[uint16]error{
	statusVersion:     ErrVersion,
	statusCluster:     ErrClusterMismatch,
	statusUnknownPeer: ErrUnknownPeer,
	statusIDMismatch:  ErrIDMismatch,
}

type hello struct {
	version  uint16
	kind     uint16
	cluster  uint64
	from, to uint64
}

type reply struct {
	version uint16
	status  uint16
	cluster uint64
	id      uint64
	reason  string
}

func writeHello(w io.Writer, h hello) error {
	var b [helloSize]byte
	copy(b[0:4], magic)
	binary.BigEndian.PutUint16(b[4:], h.version)
	binary.BigEndian.PutUint16(b[6:], h.kind)
	binary.BigEndian.PutUint64(b[8:], h.cluster)
	binary.BigEndian.PutUint64(b[16:], h.from)
	binary.BigEndian.PutUint64(b[24:], h.to)
	_, err := w.Write(b[:])
	return err
}

func readHello(r io.Reader) (hello, error) {
	var b [helloSize]byte
	// The magic first, so that a stranger sending less than a hello
	// (an HTTP request, say) is refused at once, not at the deadline.
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		return hello{}, err
	}
	if string(b[0:4]) != magic {
		return hello{}, ErrBadMagic
	}
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return hello{}, err
	}
	return hello{
		version: binary.BigEndian.Uint16(b[4:]),
		kind:    binary.BigEndian.Uint16(b[6:]),
		cluster: binary.BigEndian.Uint64(b[8:]),
		from:    binary.BigEndian.Uint64(b[16:]),
		to:      binary.BigEndian.Uint64(b[24:]),
	}, nil
}

func writeReply(w io.Writer, rp reply) error {
	reason := rp.reason
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	b := make([]byte, replyHdrSize, replyHdrSize+len(reason))
	copy(b[0:4], magic)
	binary.BigEndian.PutUint16(b[4:], rp.version)
	binary.BigEndian.PutUint16(b[6:], rp.status)
	binary.BigEndian.PutUint64(b[8:], rp.cluster)
	binary.BigEndian.PutUint64(b[16:], rp.id)
	binary.BigEndian.PutUint16(b[24:], uint16(len(reason)))
	b = append(b, reason...)
	_, err := w.Write(b)
	return err
}

func readReply(r io.Reader) (reply, error) {
	var b [replyHdrSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return reply{}, err
	}
	if string(b[0:4]) != magic {
		return reply{}, ErrBadMagic
	}
	rp := reply{
		version: binary.BigEndian.Uint16(b[4:]),
		status:  binary.BigEndian.Uint16(b[6:]),
		cluster: binary.BigEndian.Uint64(b[8:]),
		id:      binary.BigEndian.Uint64(b[16:]),
	}
	n := binary.BigEndian.Uint16(b[24:])
	if n > maxReason {
		return reply{}, fmt.Errorf("reply reason of %d bytes exceeds %d", n, maxReason)
	}
	reason := make([]byte, n)
	if _, err := io.ReadFull(r, reason); err != nil {
		return reply{}, err
	}
	rp.reason = string(reason)
	return rp, nil
}

// judgeHello is the acceptor's check of a hello: the status to reply
// with, and the error that explains it (nil when accepted).
func judgeHello(h hello, cluster, self uint64, known func(uint64) bool) (uint16, error) {
	switch {
	case h.version != version:
		return statusVersion, fmt.Errorf("%w: member %d speaks version %d, this member %d", ErrVersion, h.from, h.version, version)
	case h.kind != kindStream && h.kind != kindSnapshot:
		return statusVersion, fmt.Errorf("%w: member %d opened a connection of unknown kind %d", ErrVersion, h.from, h.kind)
	case h.cluster != cluster:
		return statusCluster, fmt.Errorf("%w: member %d is in cluster %x, this member in cluster %x", ErrClusterMismatch, h.from, h.cluster, cluster)
	case h.to != self:
		return statusIDMismatch, fmt.Errorf("%w: member %d dialled member %d but reached member %d", ErrIDMismatch, h.from, h.to, self)
	case !known(h.from):
		return statusUnknownPeer, fmt.Errorf("%w: member %d is not a peer of member %d", ErrUnknownPeer, h.from, self)
	}
	return statusOK, nil
}

// judgeReply is the dialler's check of the acceptor's reply.
func judgeReply(rp reply, cluster, self, peer uint64) error {
	if rp.status != statusOK {
		base, ok := statusErrs[rp.status]
		if !ok {
			return fmt.Errorf("member %d refused the connection with status %d: %s", peer, rp.status, rp.reason)
		}
		// The reason is the acceptor's error text, which starts with
		// the same sentinel; say it once.
		reason := strings.TrimPrefix(rp.reason, base.Error()+": ")
		return fmt.Errorf("%w: refused by the member at %d's url: %s", base, peer, reason)
	}
	switch {
	case rp.version != version:
		return fmt.Errorf("%w: member %d answered with version %d, this member speaks %d", ErrVersion, peer, rp.version, version)
	case rp.cluster != cluster:
		return fmt.Errorf("%w: the member at %d's url is in cluster %x, this member %d in cluster %x", ErrClusterMismatch, peer, rp.cluster, self, cluster)
	case rp.id != peer:
		return fmt.Errorf("%w: expected member %d, reached member %d", ErrIDMismatch, peer, rp.id)
	}
	return nil
}

// appendFrame encodes m as one frame into buf (reusing its storage) and
// returns it, or ErrFrameTooLarge when the payload exceeds limit.
func appendFrame(buf []byte, m *raftpb.Message, limit int64) ([]byte, error) {
	buf = append(buf[:0], 0, 0, 0, 0)
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return buf, err
	}
	n := int64(len(buf) - frameHdrSize)
	if n > limit {
		return buf, fmt.Errorf("%w: %s of %d bytes to member %d exceeds %d", ErrFrameTooLarge, m.GetType(), n, m.GetTo(), limit)
	}
	binary.BigEndian.PutUint32(buf, uint32(n))
	return buf, nil
}

// frameReader decodes frames from one connection, reusing its buffer for
// ordinary messages.
type frameReader struct {
	r     io.Reader
	limit int64
	buf   []byte
}

// keepBuf is the largest read buffer kept between frames; a snapshot's
// buffer is released once the snapshot has been decoded.
const keepBuf = 4 << 20

// keepFrame is the largest encode buffer kept between messages.
const keepFrame = 4 << 20

// firstChunk is what a payload larger than the kept buffer is first read
// into; the buffer then doubles each time it fills, so memory follows the
// bytes that arrived, not the length announced.
const firstChunk = 64 << 10

// next reads one frame and returns its message and its size on the wire;
// a keep-alive frame (length 0) has no message. decodeMessage copies
// bytes fields, so the buffer may be reused.
func (fr *frameReader) next() (*raftpb.Message, int, error) {
	var hdr [frameHdrSize]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, 0, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 {
		return nil, frameHdrSize, nil
	}
	if n > fr.limit {
		return nil, 0, fmt.Errorf("%w: incoming frame of %d bytes exceeds %d", ErrFrameTooLarge, n, fr.limit)
	}
	b, err := fr.readPayload(n)
	if err != nil {
		return nil, 0, err
	}
	m, err := decodeMessage(b)
	if cap(fr.buf) > keepBuf {
		fr.buf = nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: a frame of %d bytes: %w", ErrMalformed, n, err)
	}
	return m, int(n) + frameHdrSize, nil
}

// readPayload reads n bytes, into the kept buffer when it is large
// enough, else into one that grows as the bytes arrive.
func (fr *frameReader) readPayload(n int64) ([]byte, error) {
	if int64(cap(fr.buf)) >= n {
		b := fr.buf[:n]
		_, err := io.ReadFull(fr.r, b)
		return b, err
	}
	b := make([]byte, 0, min(n, max(firstChunk, int64(cap(fr.buf)))))
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			grown := make([]byte, len(b), min(n, 2*int64(cap(b))))
			copy(grown, b)
			b = grown
		}
		k, err := io.ReadFull(fr.r, b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	fr.buf = b
	return b, nil
}
