package qualify

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// The network probe protocol between `adrbench qualify --peers` and
// `adrbench qualify serve`, over TCP.
//
// Handshake: each side sends 5 bytes, "ADRQ" and its protocol version;
// the responder answers even a client of another version, with its own,
// and then closes, so the client can say which side to upgrade.
//
// Then frames, in both directions:
//
//	0      1            5
//	+------+------------+-----...-----+
//	| type | length u32 | payload      |
//	+------+------------+-----...-----+
//
//	type  from     payload                        answer
//	'P'   client   <= 64 KiB, opaque (a sequence) 'p' with the same payload
//	'B'   either   <= 64 KiB of bulk data         none; the receiver counts it
//	'S'   client   empty                          's': 8 bytes, bulk bytes read since the last 'S'
//	'D'   client   4 bytes: milliseconds <= 10 s  'B' frames for that long, then 'E'
//	'E'   server   8 bytes: bulk bytes sent       none
//
// Lengths are big-endian. A frame longer than maxFrame, an unknown type or
// a download longer than maxDownload ends the connection: both sides are
// adrbench, so anything else is not a peer worth answering.
const (
	protoMagic   = "ADRQ"
	protoVersion = 1
	maxFrame     = 64 << 10
	maxDownload  = 10 * time.Second
	frameHeader  = 5
)

// Frame types.
const (
	framePing     = 'P'
	framePong     = 'p'
	frameBulk     = 'B'
	frameSync     = 'S'
	frameSynced   = 's'
	frameDownload = 'D'
	frameEnd      = 'E'
)

// writeHello sends the magic and version.
func writeHello(w io.Writer) error {
	_, err := w.Write(append([]byte(protoMagic), protoVersion))
	return err
}

// readHello reads the other side's magic and returns its version.
func readHello(r io.Reader) (byte, error) {
	var b [5]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	if string(b[:4]) != protoMagic {
		return 0, fmt.Errorf("%w: the peer is not an adrbench qualify responder (it sent %q)", ErrProtocol, b[:])
	}
	return b[4], nil
}

// frameWriter sends frames, each in one Write so that a ping is one
// segment on the wire; not safe for concurrent use.
type frameWriter struct {
	w   io.Writer
	buf []byte
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: w, buf: make([]byte, frameHeader+maxFrame)}
}

// write sends one frame.
func (fw *frameWriter) write(typ byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes (at most %d)", ErrProtocol, len(payload), maxFrame)
	}
	fw.buf[0] = typ
	binary.BigEndian.PutUint32(fw.buf[1:frameHeader], uint32(len(payload)))
	n := copy(fw.buf[frameHeader:], payload)
	_, err := fw.w.Write(fw.buf[:frameHeader+n])
	return err
}

// readFrame reads one frame into buf (at least maxFrame long) and returns
// its type and payload, which aliases buf.
func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes (at most %d)", ErrProtocol, n, maxFrame)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return 0, nil, err
	}
	return h[0], buf[:n], nil
}
