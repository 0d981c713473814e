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
// raft loop (node.go) batches queued proposals into one MsgProp (a leader
// adds the proposals its followers forward and, when its Saves are fast,
// holds them while its last append is uncommitted: group.go), and for
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
//     its log backend (openLogBackend), bootstrapped on a first boot
//     (boot.go), the MVCC state machine with the watch hub over it, once
//     its database has been checked against the log, the lessor's expiry
//     timers, and the membership.
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
//     on one port, and the connections to the other members (peerconns.go).
//     With InitialCorruptCheck the member's key space is then compared
//     with its peers' (corrupt.go) before anything starts.
//  4. start runs the applier, the raft loop, the read batcher and the API,
//     then the member's own background work: publishing its attributes,
//     revoking expired leases, and, with CorruptCheckTime, the leader's
//     periodic corruption check.
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
// from the raft loop or the applier, or a failure of the state machine's
// database, closes the member.
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
// (its consistent index) in the same transaction. Every entry advances the
// consistent index, those without a request too. On restart raft hands
// back every committed entry after the log's snapshot and the applier skips
// those at or below the consistent index, so nothing is applied twice or
// skipped. Every SnapshotCount applied entries the state machine is
// committed, the log records a snapshot at that index and compacts all but
// the last 5000 entries behind it. A follower too far behind is sent the
// state machine's whole database in a MsgSnap, with its sha256 appended
// (dbhash.go); it checks the hash and the database (mvcc.Store.Restore)
// and restores the database durably before the log records the snapshot.
//
// At start the database's consistent index must be at least the log's
// snapshot index: raft replays only the entries after the snapshot, so a
// database below it (rolled back, or removed after the log was compacted)
// could never catch up, and the member refuses to start
// (ErrDatabaseBehind). A database that is missing while the log still
// holds every entry (no snapshot yet) is rebuilt from the log.
//
// If the state machine fails (a bbolt write or commit fails, or an entry
// does not decode), the member stops with the cause (ErrStateMachineFailed):
// the applied index stays at the last entry applied, and from the failure
// on no read, linearizable or serializable, lease or watch, is answered
// from the state machine, whose memory holds writes its file may not.
//
// A first boot is a sequence of steps each safe to crash after, power loss
// included (boot.go): the directories, each name fsynced in its parent
// (datadir.go); the log opened and the cluster's bootstrap entries saved
// in it; the database created and its directory fsynced; identity.json
// written last. A data dir without identity.json belongs to a member that
// never sent a message, so a start finishes its first boot if its log
// holds nothing but (a prefix of) the bootstrap; identity.json with an
// empty log is a lost log and is refused.
//
// # Integrity between members
//
// Maintenance.Hash and HashKV compute etcd's hashes (mvcc), equal to
// etcd's own for the same history, so `etcdctl endpoint hashkv --cluster`
// compares members. The initial corruption check (InitialCorruptCheck)
// compares this member's HashKV at its revision with every peer's before
// the member starts and refuses on a mismatch at the same compaction
// revision (ErrCorruptData); the periodic check (CorruptCheckTime) does
// it on the leader, as etcd's, and raises a CORRUPT alarm through raft,
// which makes every member refuse writes until it is disarmed.
// Maintenance snapshots end with the sha256 of the database, which
// `etcdctl snapshot restore` checks.
//
// # Reads and leases
//
// Linearizable reads share ReadIndex requests: readers arriving while one
// is in flight wait for the next, then read locally once the applied index
// reaches it. Serializable reads are local. A Txn that writes nothing in
// any branch is a read too, as in etcd: it is not proposed, but waits for
// a ReadIndex like a linearizable Range (unless every range in it is
// serializable) and is evaluated on the local state machine
// (mvcc.Store.ReadTxn). Lease expiry is decided by the leader's clock:
// keep-alives renew on the leader (followers forward them), and the leader
// proposes the revocation of expired leases through raft.
//
// Membership is static, set by --initial-cluster; each member publishes its
// name and client URLs through raft when it starts.
//
// # TLS
//
// ClientTLS and PeerTLS take etcd's flags with etcd's meanings (package
// tlsinfo); a port with TLS has https:// URLs, one without http://, and
// Validate names the flag of any mismatch, missing or mismatched file.
// With --auto-tls or --peer-auto-tls a self-signed certificate for the
// hosts of the port's URLs is made once in the data directory's
// fixtures/client or fixtures/peer (tls.go). The client port serves gRPC
// and the JSON gateway on the same TLS listener: the protocol negotiated
// by ALPN is HTTP/1.1 for a client that offers it and h2 for one that
// offers only h2 (every gRPC client), so that the first bytes still tell
// the two apart. The gateway reaches the gRPC server over TLS with the
// member's certificate; lease forwarding and the corruption check dial
// other members' client ports with the client TLS settings. Certificates
// and CA bundles are read again when their files change.
//
// With peer TLS and --peer-client-cert-auth, only members presenting a
// certificate the peer CA bundle verifies (and, if set, with the allowed
// CN or host name) get past the TLS handshake of the peer port.
//
// # Untrusted input
//
// The peer transport bounds what it reads (store/transport): a stream
// frame by the largest append raft sends here (MaxSizePerMsg and
// --max-request-bytes, through transport.MessageBound, so members of one
// cluster must agree on --max-request-bytes), a snapshot by the backend
// quota plus a quarter, and a connection by five election timeouts of
// silence. Connections it closes are counted on /metrics as
// adrbench_peer_rejected_frames_total{reason}. Without peer TLS, or with
// it but without --peer-client-cert-auth, the member logs a warning at
// startup: its peer port takes raft messages from anyone who reaches it
// (or completes a TLS handshake). The JSON gateway reads at most a request of
// --max-request-bytes in JSON, and the client port's HTTP server gives a
// client 10 s for its headers and 30 s for its body (a watch's body
// streams without a deadline).
// # Authentication
//
// etcd's authentication (v3_auth.go, auth.go, jwt.go): the Auth service's
// requests go through raft, reads too, and change the auth store that the
// state machine keeps in its database (store/mvcc), so every member has
// the same users, roles and auth revision. Passwords are hashed with
// bcrypt before they are proposed. A client request acts as the user its
// "token" metadata names. Every proposal carries a header with that user
// and the auth revision its token was checked at; the state machine
// refuses the writes, txns, lease revocations and administration the user
// may not make, as of the entry, and the API layer checks reads, watches
// and the root-only Maintenance (hashes, snapshots) and Cluster calls.
// Requests the members make themselves carry no header and are not
// checked. Simple tokens, the default, are random letters and the index of
// the Authenticate entry that assigned them: every member records them
// when it applies that entry, keeps them in memory for --auth-token-ttl
// after their last use, and forgets a user's tokens when the user changes
// password or is deleted, and all of them when authentication is
// disabled. Signed tokens (--auth-token jwt,...) carry etcd's claims
// (username, revision, exp) and are checked by signature on any member;
// once the auth store has changed they are refused as old, and clients
// authenticate again. With --client-cert-auth, a request without a token
// acts as the common name of its client certificate, as in etcd (the JSON
// gateway's requests excepted).
package store
