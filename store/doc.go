// Package store is an etcd-compatible replicated key-value server: a raft
// member whose log lives in a swappable log backend (package logbackends),
// an MVCC state machine on bbolt (store/mvcc), a watch hub (store/watch), a
// peer transport (store/transport), and etcd's v3 gRPC API with its JSON
// gateway on the client URL.
//
// # Layers
//
// Requests flow one way: the client API proposes an InternalRaftRequest
// (etcd's own wire type) with a cluster-unique id and waits on that id; the
// raft loop (node.go) batches queued proposals into one MsgProp, and for
// each Ready persists entries and HardState in the log backend before
// sending the messages that depend on them — a leader sends its appends in
// parallel with its own save, a follower after it; committed entries go to
// the applier (apply.go), a goroutine of its own, which applies them to the
// state machine in order and answers the waiting request. The state
// machine never sees raft.
//
// # Durability
//
// The raft log makes a write durable; the state machine's bbolt file is
// committed in batches and records the index of the last entry it holds
// (its consistent index) in the same transaction. On restart raft hands
// back every committed entry after the log's snapshot and the applier skips
// those at or below the consistent index, so nothing is applied twice or
// skipped. Every SnapshotCount applied entries the state machine is
// committed, the log records a snapshot at that index and compacts all but
// the last 5000 entries behind it. A follower too far behind is sent the
// state machine's whole database in a MsgSnap; it restores the database
// durably before the log records the snapshot.
//
// # Reads and leases
//
// Linearizable reads share ReadIndex requests: readers arriving while one
// is in flight wait for the next, then read locally once the applied index
// reaches it. Serializable reads are local. Lease expiry is decided by the
// leader's clock: keep-alives renew on the leader (followers forward them),
// and the leader proposes the revocation of expired leases through raft.
//
// Membership is static, set by --initial-cluster; each member publishes its
// name and client URLs through raft when it starts.
package store
