// Package check is the linearizability check of a cluster under faults,
// in the manner of Jepsen and etcd's robustness tests: clients record a
// history while faults are injected, and porcupine decides whether some
// sequential order of the operations, consistent with their real-time
// order, explains every answer.
//
// # Cluster and faults
//
// Run starts a process or etcd cluster through the harness, its peer
// ports behind proxies that can cut links (harness.Partitioner) and, when
// a disk stall is asked for, its data directories on a FUSE pass-through
// mount (harness.DiskStaller). Both servers are faulted the same way. A
// nemesis injects one fault at a time, drawn with the seed from the
// configured names (Faults): kill and restart (SIGKILL), pause and resume
// (SIGSTOP, SIGCONT), a member or the leader cut off from every peer, a
// minority split from the majority, one direction of a member's links
// dropped, a link that flaps, a member's syncs slowed. It holds the fault
// for about Config.FaultHold, heals it, and waits until every member is
// healthy before the next one, so faults never add up to the loss of a
// majority; a fault that cannot be healed, or after which the cluster
// does not recover, fails the check.
//
// # Workload and history
//
// Config.Clients clients, each on its own connection to one member (in
// turn, so every member serves), do linearizable gets (some inside a
// read-only txn, which the server answers without raft), puts of unique
// values and compare-and-set txns (swap if the key holds what the client
// last saw, else read it) on Config.Keys keys, one operation at a time,
// each recorded with its call and return time. A read that fails changed
// nothing and is dropped; a write that fails or times out is
// indeterminate: it may have taken effect at any time after its call, so
// its client continues as a new one. After the run every key is read
// through every member, and those reads join the history.
//
// # Model and verdict
//
// The model (model.go) is a register per key; porcupine checks each key
// on its own, which is sound since operations on different keys never
// constrain each other. Indeterminate writes are settled by what the
// others saw (porcupineHistory): values are unique, so a write whose
// value was observed happened before its first observer returned, and
// one whose value nobody observed can be left out, as it could always be
// linearized last. The check runs with a time limit (Config.CheckTimeout);
// a check that runs out has no verdict.
//
// # After the faults
//
// Every member must answer a linearizable read and name the same leader,
// and must hold every acknowledged write at the revision its answer
// named (read back with serializable reads, so each member answers from
// its own state): a durable backend that loses an acknowledged write after
// a kill fails here even if no client read it.
//
// The run directory gets report.json (Report), history.json (every
// operation) and, on a violation, porcupine's visualization.html with the
// faults drawn as annotations.
package check
