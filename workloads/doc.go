// Package workloads says what benchmark clients do: which operations, on which
// keys, with which values. It does not pace or measure; the harness does.
//
// A Workload is built once from a Config and shared read-only by all workers;
// each worker takes its own Worker, whose random stream is seeded from the
// run's seed and the worker's id, so a run is reproducible and workers never
// share a lock or a rand source on the hot path. Worker.Next returns the next
// Op, which executes against a *clientv3.Client.
//
// Keys are fixed-size, zero-padded decimal numbers, so key order is numeric
// order and YCSB-E scans over [k, k+n) are ranges. Key choice follows YCSB's
// distributions: uniform, zipfian (Gray et al.'s generator, scrambled by a
// hash as YCSB does so that the hot keys are spread over the key space),
// latest (zipfian counted back from the newest inserted key), hotspot (a hot
// fraction of the keys takes a hot fraction of the operations) and sequential.
// The zipfian constant is computed for the initial key space and not
// recomputed as inserts grow it; YCSB does the same for its scrambled
// generator.
//
// Values are slices of one per-worker random string, so making a value
// allocates nothing.
//
// Two workloads are more than one request per operation. Lease churn grants
// a lease, attaches a key, keeps it alive once and then revokes it or (for
// the share LeaseRevoke leaves) lets it expire. The watch workload's writers
// put values whose first WatchHeaderSize bytes say who sent them, in which
// order and when; the harness opens the watchers, measures delivery from
// that send time, and checks each watcher's events against the writers'
// WatchLedger for missed and duplicated ones. Events of one watch arrive in
// revision order and each writer sends one put at a time, so a writer's
// sequence numbers reach every watcher in order; a put that failed may or
// may not have been applied, which is why the ledger keeps the failures.
package workloads
