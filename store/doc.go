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
// # Assembly
//
// NewServer builds a member in four steps, each from what the ones before
// produced; nothing is wired into a part after it is built.
//
//  1. openState (state.go) checks that the data dir belongs to the member
//     the flags describe, then opens the member's state: the raft log in
//     its log backend (openLogBackend), the MVCC state machine with the
//     watch hub over it, the lessor's expiry timers, and the membership.
//  2. newCore (core.go) builds the replicated part on that state. The
//     applier comes first, from the state machine, lessor, membership,
//     the proposals' wait list and the applied index. The raft node comes
//     next, from the log, the applier's enqueue, restore and snapshot
//     functions, the mailbox the applier posts snapshot indexes to, hooks
//     (leadership to the lessor, refused proposals to the wait list, fatal
//     errors to the server) and a function that builds its peer
//     transport. The read batcher (read.go) and the proposer (propose.go)
//     come last, from the node's read-index and propose calls.
//  3. newFrontend (api.go) builds what clients talk to: the five gRPC
//     services, /health and /metrics, each from the parts it uses, served
//     on one port.
//  4. start runs the applier, the raft loop, the read batcher and the API,
//     then the member's own background work: publishing its attributes and
//     revoking expired leases.
//
// Dependencies point one way: API, then core, then state. The state
// machine never sees the raft node: the node hands it committed entries
// and snapshots through functions, and the applier tells the node where
// it may snapshot through a one-slot mailbox. The transport delivers
// inbound messages to the node as a transport.Raft, so the node builds it,
// through the function it is given, once the node exists; the node owns
// it and closes it when it stops. Only Server holds the parts together,
// and a test keeps it the only type that holds a *Server. It owns their
// lifecycle: if a step of NewServer fails, what the earlier steps opened
// is closed; Close stops the API first and the state last; a fatal error
// from the raft loop or the applier closes the member.
//
// /metrics is served from a Prometheus registry of the member's own. Its
// collector reads the log backend's Stats, the state machine's commit
// latency, the node's status and the proposal counters when scraped, and
// exports them under the names etcd exports (etcd_disk_wal_fsync_*,
// etcd_server_*, ...), next to the standard process_* and go_* metrics.
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
