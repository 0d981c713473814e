package harness

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

// A peer proxy fronts one member's peer port, so every connection it
// accepts goes to that member, but it comes from whichever member dialled.
// To cut one direction of one link, the proxy must know which: it reads
// the dialler's member id from the first bytes of the connection.
//
//   - adrbench's transport opens with a 32-byte hello, "ADRT", version,
//     connection kind, cluster id, then the dialler's member id
//     (big-endian, at offset 16): store/transport/frame.go.
//   - etcd's rafthttp speaks HTTP/1.1, and every request that carries raft
//     messages (the stream GETs whose responses carry the acceptor's
//     messages, the pipeline and snapshot POSTs) names its sender in an
//     X-Server-From header, the member id in hex. Other requests (probes,
//     version checks) carry no raft messages and name nobody; a pooled
//     connection may serve such a request before a stream reuses it, so
//     the sniffer walks request heads until one names its sender, or a
//     request with a body makes the stream hard to follow without parsing
//     HTTP fully.
//
// A connection that names nobody is never cut: it carries no raft traffic.
// With peer TLS nothing can be read from the first bytes, so
// ClusterConfig.Validate refuses peer cuts with TLS.

const (
	adrtMagic      = "ADRT"
	adrtHelloSize  = 32
	adrtFromOffset = 16
	// sniffLimit bounds what is held back while waiting for a request
	// head to end; a longer head is passed on unidentified.
	sniffLimit = 16 << 10
	serverFrom = "x-server-from"
)

// sourceSniffer learns which member a peer connection comes from, from the
// bytes the dialler sends. It holds bytes back only until it can tell, so
// that none of a sender's bytes pass before the proxy knows whose they are.
type sourceSniffer struct {
	held []byte
	done bool
	id   uint64
}

// feed takes the next bytes the dialler sent and returns those that may
// be forwarded now (the rest is held), and the sender's member id once
// known (0 until then, and for ever when the connection names nobody).
func (s *sourceSniffer) feed(b []byte) ([]byte, uint64) {
	if s.done {
		return b, s.id
	}
	s.held = append(s.held, b...)
	var release int
	switch {
	case len(s.held) < len(adrtMagic) && bytes.HasPrefix([]byte(adrtMagic), s.held):
		return nil, 0 // could still be a hello
	case bytes.HasPrefix(s.held, []byte(adrtMagic)):
		if len(s.held) < adrtHelloSize {
			return nil, 0
		}
		s.finish(binary.BigEndian.Uint64(s.held[adrtFromOffset:]))
		release = len(s.held)
	case looksLikeHTTP(s.held):
		release = s.walkHeads()
	default:
		s.finish(0)
		release = len(s.held)
	}
	out := s.held[:release]
	s.held = append([]byte(nil), s.held[release:]...)
	if s.done {
		out = append(out, s.held...)
		s.held = nil
	}
	return out, s.id
}

// flush returns whatever is held, for a connection that ends before the
// sniffer could tell.
func (s *sourceSniffer) flush() []byte {
	out := s.held
	s.held, s.done = nil, true
	return out
}

func (s *sourceSniffer) finish(id uint64) { s.done, s.id = true, id }

// walkHeads consumes the complete request heads at the start of held and
// returns how many bytes may be released: every head that named nobody,
// or everything once a head named its sender (or the stream cannot be
// followed further).
func (s *sourceSniffer) walkHeads() int {
	off := 0
	for {
		rest := s.held[off:]
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end < 0 {
			if len(rest) > sniffLimit || (len(rest) > 0 && !looksLikeHTTP(rest)) {
				s.finish(0)
				return len(s.held)
			}
			return off
		}
		id, hasBody := parseHead(rest[:end])
		off += end + 4
		if id != 0 || hasBody {
			s.finish(id)
			return len(s.held)
		}
	}
}

// looksLikeHTTP reports whether b starts like an HTTP request line: an
// upper-case method of up to 10 letters, then a space (or not enough bytes
// yet to tell otherwise).
func looksLikeHTTP(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ' ':
			return i > 0
		case c < 'A' || c > 'Z' || i >= 10:
			return false
		}
	}
	return true
}

// parseHead reads a request head (without its final blank line): the
// member id of its X-Server-From header (0 when absent or not hex), and
// whether a body follows it.
func parseHead(head []byte) (id uint64, hasBody bool) {
	lines := strings.Split(string(head), "\r\n")
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case serverFrom:
			if v, err := strconv.ParseUint(value, 16, 64); err == nil {
				id = v
			}
		case "content-length":
			if n, err := strconv.ParseInt(value, 10, 64); err != nil || n != 0 {
				hasBody = true
			}
		case "transfer-encoding":
			hasBody = true
		}
	}
	return id, hasBody
}
