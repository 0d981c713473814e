// Package async is an UNSAFE log backend, on purpose: it acknowledges a
// Save as soon as the records are handed to the kernel and makes them
// durable later, with one fdatasync per Config.SyncInterval
// (--async-sync-interval, 100 ms by default) from a background goroutine.
// Its registry entry is not Durable, so results on it are labelled unsafe.
//
// Why it is unsafe: go.etcd.io/raft requires the entries and HardState of a
// Ready to be on stable storage before the messages that depend on them are
// sent. This backend breaks that rule. A power loss (or a kernel crash)
// loses whatever was acknowledged since the last completed sync, up to one
// interval of writes, after the member may already have voted or told the
// leader it holds those entries; with enough members losing their window at
// once a committed write can vanish from the cluster or two leaders can be
// elected in one term. It exists to measure what the buffering Intel
// considered and rejected in 2015 would buy in throughput and what it would
// cost in lost writes; it must not hold data anyone cares about. Every
// result that uses it should say "unsafe".
//
// Promise, such as it is: when Save returns nil, the records are in the
// file system's page cache (one write call), so they survive a crash of
// this process but not of the machine. Everything acknowledged before the
// start of the last completed background sync is on stable storage. An
// installed snapshot, CreateSnapshot and Compact are synced before they
// return, as in the other file backends, because the log's recovery relies
// on them. Close syncs everything.
//
// The background sync and Save share the segment log, which has one
// writer, so a Save that arrives during a background fdatasync waits for
// it: about one sync's latency once per interval. Stats counts the
// background syncs and their latencies like any others.
package async
