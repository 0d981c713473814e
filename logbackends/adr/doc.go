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
// through Env.FS, so disk profiles and crash clones apply) in writes of a
// MiB or so, makes one fdatasync and only then releases their ring space.
// The entries are copied from their ring records as encoded there, never
// encoded again, followed by the batch's last HardState. A full ring makes
// Save wait for a release (CounterRingFullWaits); nothing is dropped. A
// wait longer than a second (or half the timeout) is counted
// (CounterRingFullSlowWaits) and logged, and one longer than
// Config.RingFullTimeout (--adr-ring-full-timeout, 30 s by default) fails
// the Save with ErrRingFullTimeout, which stops the member: the disk is
// not keeping up, and the Ready loop must not stay blocked without end.
// If draining fails (a full disk), every later Save fails with that
// error: the ring could no longer be emptied. What was acknowledged stays
// in the region and is recovered on the next Open.
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
// with an error naming its offset (--adr-region-reset discards the ring
// instead, below). Only the ring the log is bound to is recovered from.
//
// # Binding the ring to the disk log
//
// The region lives apart from the log directory (on tmpfs, a DAX file
// system or a device), so a restart can find in it something other than
// the ring this log wrote: nothing, after a reboot empties an emulated
// region or a namespace is re-created; another member's ring, after a
// wrong --adr-region-path or swapped files; an older ring of this member;
// a damaged superblock. Taking any of those for the log's ring, or
// formatting it as if nothing were lost, restarts the member on a shorter
// log with an older term and vote: acknowledged entries are lost and two
// leaders can be elected in one term. So the ring and the disk log record
// the same identity, and Open acts only on what the two say together.
//
// The ring's superblock records an adr.Identity: a random ring id, new
// for every ring formatted, the cluster and member ids (Env.ClusterID,
// Env.MemberID) and the disk log's last index when the ring was bound
// (package adr has the byte table). The log directory holds the binding
// record, the file adr-binding, replaced whole by writing adr-binding.tmp,
// fdatasyncing it, renaming it over adr-binding and fsyncing the
// directory, so that a crash leaves the old record or the new one:
//
//	field        offset size  meaning
//	magic        0      8     "ADRBIND1"
//	version      8      4     1
//	state        12     4     1 binding, 2 bound, 3 clean (below)
//	ring id      16     16    the ring the log is bound to (being formatted, for binding)
//	previous     32     16    binding: the ring the region held when the binding began (zero: none)
//	cluster id   48     8     raft cluster of the log (0: unknown)
//	member id    56     8     raft member of the log (0: unknown)
//	index        64     8     binding, bound: the disk log's last index when the ring was bound;
//	                          clean: its last index at the clean close, everything up to it on disk
//	path length  72     4     n, at most 4096
//	region path  76     n     where the region was, for messages and to recognise an unfinished binding
//	checksum     76+n   4     CRC-32C of bytes 0..76+n
//
// The states, and what each promises:
//
//	binding  a ring with this id is being formatted; nothing is published to it yet, and
//	         every entry of the log is on disk: the region may be formatted again
//	bound    the log is bound to this ring: entries after the disk log's end may be in
//	         the ring only, so losing the ring loses them
//	clean    Close drained everything to disk: the ring holds nothing the disk lacks
//
// Every Open binds a new ring, so that a copy of an older incarnation's
// region is never taken for the current one:
//
//	1 read the binding record and Inspect the region
//	2 if the region holds the ring the record names, lay its records over
//	  the disk log, write them and fdatasync (Recovery, above)
//	3 record binding (a new ring id; the ring the region held as previous)
//	4 FormatRing with the new identity (package adr's format protocol)
//	5 record bound; only now are Saves published to the ring
//
// and Close, once the drainer has emptied the ring, records clean. A crash
// between any two steps is safe: until 3 is durable the old record still
// names the old ring, which is still in the region (or is gone with
// nothing of the log in it: clean); from 3 to 5 the record says binding,
// and a region holding the ring being formatted, the one it replaces,
// zeros, or an unfinished format at the same path, is formatted again;
// after 5 the region holds the ring the record names. TestBindingCrash
// takes crash images (region first, then disk) at every flush, fence,
// file sync, creation, rename and directory sync of these steps, of
// Close, of an Open on an emptied region and of an Open that recovers
// records, and every image reopens without a reset holding every
// acknowledged entry; TestBindingCrashNeedsEveryStep shows that leaving
// out the record's sync, the directory's sync or step 3 breaks that.
//
// What Open does with what it finds:
//
//	binding record     region holds                                 Open
//	any                the ring the record names                    recovers from it, binds a new ring
//	none, log empty    zeros                                        binds a ring (a new member)
//	none, log empty    anything else (a stale ring, from index 1)   refuses: the region may be another log's
//	none, log entries  anything                                     refuses: the ring it was bound to is unknown
//	binding            the previous ring, zeros, or no ring at the  formats it again
//	                   same path
//	clean              zeros                                        binds a ring (a reboot after a clean stop)
//	clean, binding     another ring, or no ring                     refuses: the region may be another log's
//	bound              zeros, another member's ring, an older ring  refuses: entries after the disk log's
//	                   of this member, no ring, or this log's ring  end may be lost
//	                   with a damaged record
//
// A refusal is one error, wrapping ErrRegionMismatch, that names the
// region, the log directory, what the region holds, after which index
// entries may be lost, and what to do: point --adr-region-path at the
// log's region, or restart with --adr-region-reset (Config.RegionReset),
// which formats the region anyway and logs what it discarded and after
// which index entries of the log are lost (how many cannot be known once
// the ring is gone; the region's size bounds it). The member then catches
// up from the leader if a quorum still has them. The reset does nothing
// to a region that holds the log's ring. A binding record of another
// member than Env names is refused (ErrLogMismatch), and so is a disk log
// that ends before the index its clean record names
// (logbackends.ErrCorrupt).
//
// What survives which failure: a crash of the process keeps the region
// and the disk log, so the ring is the log's and is recovered; so does a
// power loss with persistent memory. On an emulated region a power loss
// or a reboot leaves zeros, and the member refuses to start unless it had
// stopped cleanly. A moved data directory or a wrong --adr-region-path
// finds zeros or another ring; a re-created namespace zeros or garbage; a
// flipped bit in the superblock fails its checksum (the magic number is
// under it): each is refused while entries may be lost. A region that is
// all zeros is the only one ever formatted without a reset, and only when
// nothing of the log can be in the ring it replaces.
//
// Stats: Syncs and SyncLatency count publishes on the write path, one
// flush+fence round per Save that went to the region (the ring's record
// flush and fence plus its TAIL flush and fence). The drainer's work is in
// Stats.Counters (CounterDiskSyncs, CounterDrainedBytes,
// CounterRingFullWaits, CounterRingFullSlowWaits, CounterDirectSaves), and
// the region in Stats.Facts:
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
// segments; Config.RegionReset (--adr-region-reset) and
// Config.RingFullTimeout (--adr-ring-full-timeout) are above. The region
// is emulated, and Stats.Emulated says so, unless it is a devdax device
// or a file the kernel maps with MAP_SYNC: with kind auto that is known
// only at Open. Open logs (Env.Logger) one warning line for each thing an
// operator must know about the region: that it is emulated and survives a
// process crash but not a power loss or reboot, that kind auto fell back
// to the page cache (the kernel refused MAP_SYNC), that fsdax fences with
// msync, that its write latency is emulated.
//
// Destroy (the registry entry's) removes the log directory and the
// default emulated region named after it, which lives on tmpfs outside the
// directory and would hold its memory until the machine restarts; a
// region at a configured path is left alone.
//
// Memory: the backend keeps one copy of the log's entries, the read
// mirror raft is served from. A Save is queued for the drainer as its
// ring record's place and its index range, not as entries: neither the
// queue nor the disk log keeps entries of its own, and a Save clones
// nothing.
package adrlog
