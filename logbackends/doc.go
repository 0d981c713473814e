// Package logbackends holds the contract of a member's raft log storage
// (Backend) and what every implementation shares: the registry entry that
// describes one (Entry), the environment a member opens it in (Env), its
// statistics (Stats) and the read mirror (Mirror). The registry is a value
// that cmd/ builds (see logbackends/catalog), never package state.
//
// A backend is raft.Storage for reads plus Save for writes. go.etcd.io/raft
// requires the entries and HardState of a Ready to be on stable storage
// before the messages that depend on them are sent; how a backend meets
// that, or deliberately does not, is the variable this project measures.
// Each backend states its promise in its own package comment and in its
// Entry (Durable, and Saved in one line), and the conformance suite
// (logbackends/conformance) checks it, crash clones included:
//
//	backend  durable  what a nil error from Save means                 syncs
//	fsync    yes      every entry reached stable storage on its own    one fdatasync per entry
//	batched  yes      the whole Ready reached stable storage           one fdatasync per Save (etcd's WAL);
//	                                                                   with a window, one per group of
//	                                                                   concurrent Saves
//	async    no       accepted; synced later on an interval, a crash   one per interval
//	                  loses up to that interval: NOT stable storage
//	adr      yes      in the persistent-memory region, flushed and     none on the write path
//	                  fenced; drained to disk in the background
//	memory   no       nothing survives a restart                       none
//
// Whoever labels results reads Entry.Durable, never a backend's name: a
// point on a backend that is not durable is unsafe. Whether a backend is
// emulated is not in its Entry, because it is known only once it is open
// (the adr backend's auto region is emulated unless the kernel maps real
// persistent memory; any file backend is emulated on a disk profile's
// FS); the open backend says it in Stats.Emulated.
//
// # Configuration
//
// Each backend package owns its settings: a Config with DefaultConfig,
// Validate (naming the bad flag, wrapping ErrBadConfig) and AddFlags
// (every flag starts with the backend's name: --batched-group-commit-window,
// --adr-region-kind, ...), an Open(env, cfg), and NewEntry(cfg), the
// registry entry that opens the backend with cfg. What differs between the
// members of one cluster is only the Env: the directory, the file system,
// which a disk profile wraps, and the logger the backend reports to (a
// torn tail cut on open, say).
//
// # Optional abilities
//
// ConcurrentSaver (batched with a group-commit window) takes overlapping
// Saves and shares one sync among them; a caller finds it by type
// assertion. Entry.Destroy removes what a backend keeps outside its
// directory (the adr backend's emulated region on tmpfs), so code above
// this package removes a member for good through the registry and never
// imports a backend's medium.
//
// # Statistics
//
// Stats has what every backend counts (saves, entries, bytes, syncs and
// their latency histogram, from internal/latency) plus the backend's own
// figures as named values: Counters (the adr drainer's disk syncs, say;
// every backend with a segment log reports the torn tails its recovery cut,
// CounterTornTails and CounterTornBytes) and Facts (its flush instruction,
// under FactFlushInstruction). They are lists on Stats rather than an
// optional interface on Backend because Stats travels as a value, from the
// store's server to its /metrics (which exports every Counter) and to the
// harness, which never holds the Backend itself.
//
// # Packages
//
// The subpackages: vfs (the file system the file backends write through,
// with an in-memory crash-simulating implementation), segment (the on-disk
// log format the file backends share), internal/filelog (what fsync,
// batched and async share: the segment log, the read mirror, snapshots and
// stats, with the durability policy handed in), the backends fsync,
// batched, async, memory and adr (a persistent-memory ring from package adr
// in front of the same segment log, drained off the write path), catalog
// (every backend with its Config, and the Registry built from them),
// diskprofile (sync latency emulation as a file system decorator, labelled
// emulated), conformance (the suite every backend runs, power losses of a
// simulated region included) and benchsuite (the benchmarks every backend
// runs).
//
// # Concurrency
//
// The raft Ready loop is the only writer (Save, CreateSnapshot, Compact,
// Close); the raft.Storage methods and Stats may run concurrently with it
// and must not wait for a sync in progress. A backend implementing
// ConcurrentSaver also takes overlapping Saves and shares one sync among
// them.
package logbackends
