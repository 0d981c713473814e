// Package harness drives clusters with workloads and measures them honestly.
//
// Run is the load runner. In closed loop each of C clients sends its next
// operation when the previous one returns (the way etcd's benchmark tool
// works, and labelled "closed" in results because it hides queueing). In open
// loop operations are due at a fixed rate, or on a schedule of rate steps,
// whatever the server does; a client that is late charges the delay to the
// operation, because latency is measured from the intended send time, not
// from the send (wrk2's correction of coordinated omission).
//
// Workers record nanosecond latencies into HdrHistograms (3 significant
// digits) held in shards, each with its own lock, so no lock is shared by
// every request; an aggregator merges the shards on a tick (1 s by default)
// into an interval histogram, which becomes one entry of the per-second
// series, and into the cumulative histogram. Operations started (or due)
// during warm-up are run but not recorded. Errors are counted by gRPC code.
//
// The generator is meant never to be what limits a run, so its own cost is
// kept down: per-worker state and no channel or lock shared by every
// operation; an operation timeout enforced by one watchdog rather than a
// timer per operation (a timed-out operation is cancelled between the
// timeout and 17/16 of it, and counted as DeadlineExceeded); and fixed
// HTTP/2 windows on the load connections (see generator.go). What remains
// is nearly all the gRPC client. The garbage collector's target is the
// process's, so the command that runs the generator sets it, not this
// package. scripts/generator-cpu.sh compares its CPU per 100k puts with
// etcd's benchmark tool.
//
// Targets are clusters to drive, all through go.etcd.io/etcd/client/v3:
// inproc (store members in this process on an in-process network), process
// (`adrbench serve` child processes on loopback ports), etcd (real etcd
// processes from PATH, with the same data-dir, snapshot and timing
// settings) and external (endpoints given; nothing is started or stopped).
// The process and etcd targets are one internal/proccluster cluster each,
// given the serve or etcd command and flags, removeDataDir to remove a
// member's data, and the delaying proxies as its peer fronts; their server
// CPU is the members' (gopsutil for live processes, the exit status for
// earlier incarnations). Targets that start members implement Faulter
// (stop, kill, restart one member; find the leader) for fault scenarios.
// The process and etcd targets add Pauser (SIGSTOP and SIGCONT) and
// HealthWaiter, Partitioner with ClusterConfig.PeerCuts (the peer proxies
// drop either direction of any link, knowing each connection's sender
// from its first bytes), and DiskStaller with ClusterConfig.DiskStalls
// (the members' data directories on a FUSE pass-through mount whose syncs
// can be slowed per member while they run).
//
// With ClusterConfig.TLS the process and etcd targets make a CA and a
// certificate per member and one for the harness (tls.go, in the members'
// directory under tls/), start the members with client and peer TLS and
// client certificates required on both ports, and everything the harness
// dials (the load, the leader search, /metrics) goes over TLS; the
// external target is reached with CACert, Cert and Key. A point records
// tls, part of its key, so a sweep can put TLS on and off as an axis.
// Inproc members have no TLS.
//
// With ClusterConfig.AuthUser the load's clients log in with etcd's
// authentication (each connection authenticates once, as clientv3 does);
// on a cluster the harness starts, it first adds root with the root role
// and enables authentication, so a point measures what authentication
// costs the same way on our server and on etcd.
//
// Network latency is injected the same way into whatever is compared: the
// in-process network delays inproc members' messages per link, and for
// process and etcd members a delaying TCP proxy sits in front of every
// member's peer port, which the members advertise, so each one-way message
// on a peer link is delayed once. A point records which method was used.
// Bench ties a target, a workload and the runner into one measured
// results.Point, returned with the header of a run to hold it; its
// BenchConfig's Point says beforehand which point that will be (its Key).
// harness/sweep runs a matrix of them into one run directory.
//
// The watch workload is measured at the watchers, not the writers:
// WatchFanout creates its watches before any put is sent, records each
// event's delivery latency from the send time the writer stamped into the
// value, and after the writers stop puts a fence that every watcher must
// see, since a watch delivers in revision order; then each watcher's
// events are checked against the writers' ledger, and acknowledged puts it
// never received, or received twice, are errors of the point.
//
// A point also says what the log backends did while it was measured:
// LogStats reads every member's Stats directly (BackendStatser) or from
// /metrics, under the names etcd exports, decoded with
// prometheus/common/expfmt in whichever exposition format the member
// serves; LogStatsDelta subtracts two readings, histogram buckets
// included, member by member. ProbeHost describes the machine with
// gopsutil.
package harness
