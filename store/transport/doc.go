// Package transport carries raft messages between the members of a
// cluster: the peer network of the store.
//
// Two implementations share one Transport interface and one set of
// semantics. TCP connects members in different processes; Network
// connects members in one process, for tests and the in-process
// benchmark target, so a comparison between the two measures the
// network, not different queueing rules.
//
// # Semantics
//
//   - Send never blocks on the network. Each peer link has a bounded
//     queue (etcd's 4096 messages by default); a message that does not
//     fit is dropped and raft is told with ReportUnreachable, after which
//     it probes the peer instead of flooding it. Raft retransmits, so a
//     dropped message costs time, not safety.
//   - Each link is FIFO and is drained by one goroutine, and inbound
//     messages are handed to Raft.Process by one goroutine per
//     connection, in order: raft relies on in-order MsgApp streams to
//     avoid needless rejections and probes. The one exception is MsgSnap
//     over TCP, which travels on a connection of its own (below).
//   - A MsgSnap is reported with raft.SnapshotFinish once it has been
//     written out completely (flushed to the socket, or handed to the
//     receiver in process), and with raft.SnapshotFailure if it was
//     dropped, so the leader never waits forever on a lost snapshot.
//
// # Faults
//
// SetLinkFault injects one-way delay, jitter and loss on the link from
// this member to a peer, before the link's queue, the same code in both
// implementations (outbox.go). Delay is a delay line: every message is
// stamped with its due time when it is sent, and one goroutine per link
// releases messages as they fall due, in order. Messages therefore wait
// side by side, as on a long wire, and a delay adds latency without
// lowering throughput. Jitter never reorders: a message is never due
// before the one sent ahead of it. Network adds Partition and Heal.
//
// # TCP
//
// Each member dials each peer and keeps one persistent connection per
// direction; after a handshake that checks protocol version, cluster id
// and both member ids (see frame.go for the byte layout), the dialler
// writes length-prefixed protobuf frames through a 64 KiB buffer that is
// flushed only when the peer's queue is empty, so a burst of messages
// leaves in few syscalls. TCP_NODELAY is on: raft's small heartbeats and
// acknowledgements must not wait for Nagle. A broken connection is
// redialled with exponential backoff; while a peer cannot be reached,
// whatever is queued for it is dropped and reported unreachable.
//
// A MsgSnap is written on a short-lived connection of its own, as etcd
// does, so that a snapshot of the whole state machine does not hold up
// the heartbeats queued behind it for long enough to set off an
// election. The hello says which kind of connection it opens, and each
// kind has its own bound: MaxMessageBytes for a stream (the store
// derives it from raft's MaxSizePerMsg and its request-size limit with
// MessageBound), MaxSnapshotBytes for the one MsgSnap of a snapshot
// connection (the store derives it from the backend quota). Streaming a
// snapshot would save the receiver one buffer of the snapshot's size,
// but raft hands over and expects the snapshot as one in-memory message,
// so it would save nothing end to end.
//
// # Untrusted input
//
// Whatever reaches the peer port is read defensively. A connection must
// complete its handshake within DialTimeout. A frame's length is checked
// against its connection's bound before any payload is read, and the
// payload is read into a buffer that grows as bytes arrive (doubling from
// 64 KiB), never allocated at the announced size, so a header announcing
// 2 GiB costs nothing until 2 GiB are sent. Every read has a deadline
// IdleTimeout ahead; a dialler with nothing to send writes a keep-alive
// (a frame of length 0) every IdleTimeout/3 to hold an idle link open. A
// frame too large, one that does not decode, a message from or to other
// members than the handshake named, a MsgSnap on a stream or anything
// else on a snapshot connection, and silence all close the connection
// and are counted by reason in Stats.Rejected.
//
// The handshake's ids keep honest members apart; they authenticate
// nobody, since every client response header carries them. Without TLS,
// anyone who reaches the peer port can speak for a member.
//
// # TLS
//
// With ServerTLS every accepted connection completes a TLS handshake
// within DialTimeout before its hello is read, and with ClientTLS every
// connection is dialled with TLS, verified against the peer URL's host;
// peer URLs are then https://, without TLS http:// or tcp://. The
// framing inside is the same. With a client certificate required
// (tlsinfo's ClientCertAuth, etcd's --peer-client-cert-auth), only a
// member holding a certificate the configuration accepts reaches the
// hello: the peer port is authenticated by TLS, and the ids then only
// route. The port speaks this package's framing, not HTTP.
package transport
