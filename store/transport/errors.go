package transport

import "errors"

var (
	// ErrClosed is returned by operations on a closed transport.
	ErrClosed = errors.New("transport: closed")
	// ErrInvalidConfig wraps a configuration error naming the bad field.
	ErrInvalidConfig = errors.New("transport: invalid config")
	// ErrInvalidFault wraps a LinkFault error naming the bad field.
	ErrInvalidFault = errors.New("transport: invalid link fault")
	// ErrBadURL is returned for a peer or listen URL we cannot use.
	ErrBadURL = errors.New("transport: bad url")
	// ErrSelf is returned when a member is asked to add itself as a peer.
	ErrSelf = errors.New("transport: peer id is this member's id")

	// ErrHandshake wraps every handshake failure; the errors below say
	// which check failed.
	ErrHandshake = errors.New("transport: handshake failed")
	// ErrBadMagic: the other end does not speak this protocol.
	ErrBadMagic = errors.New("not an adrbench raft peer (bad magic)")
	// ErrVersion: the other end speaks another version of the protocol.
	ErrVersion = errors.New("unsupported protocol version")
	// ErrClusterMismatch: the other end belongs to another cluster.
	ErrClusterMismatch = errors.New("cluster id mismatch")
	// ErrUnknownPeer: the sender is not a member the receiver knows.
	ErrUnknownPeer = errors.New("unknown member id")
	// ErrIDMismatch: the member at the dialled URL is not the one expected.
	ErrIDMismatch = errors.New("member id mismatch")

	// ErrFrameTooLarge: a message exceeds MaxMessageBytes.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrMalformed: a frame does not decode as a raft message, or is not
	// the kind of message its connection carries.
	ErrMalformed = errors.New("transport: malformed frame")
	// ErrIdle: a connection stayed silent past the idle timeout.
	ErrIdle = errors.New("transport: peer connection idle past its deadline")
	// ErrMisrouted: a frame's From or To does not match its connection.
	ErrMisrouted = errors.New("transport: message does not match its connection")
)
