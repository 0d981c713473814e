// Package adrlog is the adr log backend: raft log entries are made durable
// in a persistent-memory region (package adr) with cache-line flushes and
// fences, and copied to disk segments in the background. It is the backend
// Intel's 2015 etcd result is about: no fdatasync on the write path.
//
// Promise: when Save returns nil, its entries and HardState are in the
// region's ring as one record, flushed and fenced: on a platform whose
// persistence domain covers the region (ADR with the flushes, eADR) they
// survive a power loss. On the emulated region (a tmpfs file, the default
// where there is no persistent memory) they survive a crash of the
// process, not a power loss; Stats.Emulated says so. A Save that installs
// a snapshot, or whose record is larger than half the ring, waits for the
// drainer to empty the ring, then is written to disk and fdatasynced
// before it returns. CreateSnapshot and Compact do the same: durable on
// disk when they return.
//
// Draining: a background goroutine lets published Saves gather until a
// quarter of the ring is queued, the oldest has waited 10 ms, or something
// waits for it (a full ring, a snapshot, a compaction, Close). Then it
// takes them all, writes them to the disk log (the shared segment format,
// through Env.FS, so disk profiles and crash clones apply), makes one
// fdatasync and only then releases their ring space. A full ring makes
// Save wait for a release (the counter CounterRingFullWaits); nothing is
// dropped. If draining fails (a full disk), every later Save fails with
// that error: the ring could no longer be emptied. What was acknowledged
// stays in the region and is recovered on the next Open.
//
// Recovery: Open replays the disk segments, then lays the ring's records
// over them. The disk may already hold some of those records (the ring is
// released only after a disk sync, so never fewer than all before the
// ring's HEAD), and replaying a Save twice can cut the log short where a
// later overwrite had it shorter; so the records are not replayed but
// combined backwards into the final entries from the smallest first index
// among them on, and the disk's log is kept below that (see overlayOf).
// The result is written to disk, synced, and the ring emptied before Open
// returns. A damaged ring record (below TAIL) is corruption: Open fails
// with an error naming its offset.
//
// Stats: Syncs and SyncLatency count publishes on the write path, one
// flush+fence round per Save that went to the region (the ring's record
// flush and fence plus its TAIL flush and fence). The drainer's work is in
// Stats.Counters (CounterDiskSyncs, CounterDrainedBytes,
// CounterRingFullWaits, CounterDirectSaves), and the region in Stats.Facts:
// its flush instruction under logbackends.FactFlushInstruction (clwb,
// clflushopt, clflush, msync, none, portable, sim) and its kind under
// FactRegionKind.
//
// Configuration: the region comes from Config.OpenRegion when set (tests
// pass an adr.Sim), else from Config.Region (--adr-region-kind,
// --adr-region-path, --adr-region-size, --adr-media-latency; by default
// an emulated region of 64 MiB at adr.DefaultEmulatedPath of Env.Dir,
// named after the log directory so that a restarted member maps it
// again). Config.SegmentSize (--adr-segment-size) sizes the disk log's
// segments. The region is emulated, and Stats.Emulated says so, unless it
// is a devdax device or a file the kernel maps with MAP_SYNC: with kind
// auto that is known only at Open.
//
// Destroy (the registry entry's) removes the log directory and the
// default emulated region named after it, which lives on tmpfs outside the
// directory and would hold its memory until the machine restarts; a
// region at a configured path is left alone.
//
// The backend keeps two read mirrors, the served one and the disk log's,
// so entries not yet compacted cost twice their size in memory.
package adrlog
