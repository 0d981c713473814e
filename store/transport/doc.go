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
// election. Snapshots travel as one frame: MaxMessageBytes defaults to
// 2 GiB + 1 MiB, enough for a snapshot of etcd's default 2 GiB backend
// quota; raise it with the quota. Streaming would save the receiver one buffer
// of the snapshot's size, but raft hands over and expects the snapshot
// as one in-memory message, so it would save nothing end to end.
//
// There is no TLS: peer URLs must be http:// or tcp://, and the port
// speaks this package's framing, not HTTP.
package transport
