// Package logbackends holds the contract of a member's raft log storage
// (Backend) and what every implementation shares: options, statistics, the
// sync-latency histogram and the registry value cmd/ builds.
//
// A backend is raft.Storage for reads plus Save for writes. go.etcd.io/raft
// requires the entries and HardState of a Ready to be on stable storage
// before the messages that depend on them are sent; how a backend meets
// that, or deliberately does not, is the variable this project measures.
// Each backend states its promise in its own package comment, and the
// conformance suite (logbackends/conformance) checks it, crash clones
// included:
//
//	backend  what a nil error from Save means                     syncs
//	fsync    every entry reached stable storage on its own        one fdatasync per entry
//	batched  the whole Ready reached stable storage               one fdatasync per Save (etcd's WAL);
//	                                                              with a window, one per group of
//	                                                              concurrent Saves
//	async    accepted; synced later on an interval, a crash       one per interval
//	         loses up to that interval: NOT stable storage
//	adr      in the persistent-memory region, flushed and fenced  none on the write path
//	memory   nothing survives a restart                           none
//
// The subpackages: vfs (the file system the file backends write through,
// with an in-memory crash-simulating implementation), segment (the on-disk
// log format the file backends share), internal/filelog (what fsync,
// batched and async share: the segment log, the read mirror, snapshots and
// stats, with the durability policy handed in), the backends fsync,
// batched, async, memory and adr (a persistent-memory ring from package adr
// in front of the same segment log, drained off the write path),
// diskprofile (sync latency emulation as a file system decorator, labelled
// emulated), conformance (the suite every backend runs, power losses of a
// simulated region included) and benchsuite (the benchmarks every backend
// runs).
//
// Concurrency: the raft Ready loop is the only writer (Save, CreateSnapshot,
// Compact, Close); the raft.Storage methods and Stats may run concurrently
// with it and must not wait for a sync in progress. A backend implementing
// ConcurrentSaver (batched with a group-commit window) also takes
// overlapping Saves and shares one sync among them.
package logbackends
