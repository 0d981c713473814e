// Package adr is the persistent-memory layer: it maps a region (device
// DAX, a file on a DAX file system with MAP_SYNC, or an emulated region on
// tmpfs), flushes cache lines and fences them into the region's
// persistence domain, and keeps a crash-consistent ring of records in it.
// Sim is a power-loss simulator: a region that tracks which cache lines were
// flushed and fenced, for crash tests.
//
// Hardware assumption: on an ADR platform the memory controller's
// write-pending queues are drained to the media on power loss but the CPU
// caches are not, so a store is durable only after the cache line holding
// it was flushed (CLWB, CLFLUSHOPT or CLFLUSH) and a fence (SFENCE) has
// ordered that flush. On eADR the caches are in the persistence domain too
// and only the fence is needed. Aligned 8-byte stores are the unit of
// failure atomicity.
//
// # The ring
//
// Ring keeps a sequence of records in a region so that a power loss at
// any instant leaves every record whose Append returned, whole, and no
// record that is partly written. The log backend (logbackends/adr) puts
// one record per raft Save in it and drains records to disk segments.
//
// Layout (offsets in bytes from the start of the region):
//
//	0           76       128       136       192       200       256                     end
//	+-----------+--...---+---------+--...---+---------+--...---+-----------...-----------+
//	|superblock | unused |  HEAD   | unused |  TAIL   | unused | data area (records)     |
//	+-----------+--...---+---------+--...---+---------+--...---+-----------...-----------+
//	 lines 0-1            line 2             line 3             lines 4 ..
//
//	field        offset size  meaning
//	magic        0      8     "ADRRING1"
//	version      8      4     2
//	reserved     12     4     0
//	data offset  16     8     256
//	data size    24     8     region size - 256, rounded down to 8
//	ring id      32     16    random UUID, new for every ring formatted
//	cluster id   48     8     raft cluster of the log the ring belongs to (0: unknown)
//	member id    56     8     raft member of that log (0: unknown)
//	drained      64     8     index up to which the log's disk copy held every entry when the ring was formatted
//	checksum     72     4     CRC-32C of bytes 0..72, the magic number included
//	HEAD         128    8     logical offset of the oldest record kept
//	TAIL         192    8     logical offset just past the newest published record
//
// The identity fields (ring id, cluster id, member id, drained: Identity)
// are the caller's: the log backend records the same ring id in its disk
// log and opens only the ring it bound (logbackends/adr). The checksum
// covers the magic number, so one flipped bit anywhere in the superblock
// is caught instead of making the region look unformatted; Inspect tells
// a region of zeros (never used, or lost) from a ring and from anything
// else, and OpenRing never formats: only FormatRing does, when its caller
// has decided that what the region holds may go.
//
// Records start at multiples of 8 bytes in the data area:
//
//	0       4                8                16           16+length   padded to 8
//	+-------+----------------+----------------+-----...-----+--...--+
//	| crc   | length | flag  | sequence       | payload     | any   |
//	+-------+----------------+----------------+-----...-----+--...--+
//
//	field     bytes  meaning
//	crc       4      CRC-32C (Castagnoli) of bytes 4 .. 16+length
//	length    4      payload length in bits 0-30; bit 31 set: padding record
//	sequence  8      the record's logical offset: unique for the ring's life
//	payload   length the caller's bytes (a padding record's are not covered)
//
// A record that does not fit before the end of the data area goes to its
// start: a padding record (length = the rest minus its header) fills the
// end; when fewer than 16 bytes are left no record can start there and
// the skip is implicit. Append takes payloads up to about half the data
// area, so a record always fits in an empty ring.
//
// # Publish, release and recovery
//
// Append (the numbers are the protocol steps the tests leave out one at a
// time):
//
//	store padding record (if the record wraps) and the record after TAIL
//	1  flush the padding record
//	2  flush the record
//	3  fence                 the record is persistent before TAIL covers it
//	store TAIL = end of the record (one 8-byte store)
//	4  flush TAIL
//	5  fence                 TAIL is persistent before Append returns
//
// Release(upTo):
//
//	store HEAD = upTo (one 8-byte store)
//	6  flush HEAD
//	7  fence                 HEAD is persistent before the space is reused
//
// FormatRing (any ring the region held stops being one before a field
// of the new one lands):
//
//	store magic = 0 (one 8-byte store)
//	8  flush it
//	9  fence                 the old ring is gone before its fields change
//	store the superblock (checksum included), HEAD = 0, TAIL = 0
//	10 flush them
//	11 fence                 every field is persistent before the magic
//	store magic (one 8-byte store)
//	12 flush it
//	13 fence                 the ring exists before FormatRing returns
//
// TAIL is the commit point. Open checks the superblock, reads HEAD and
// TAIL and walks every record between them: its header must lie inside
// the data area and below TAIL, its sequence must equal its offset (a
// record left from an earlier lap fails this) and its checksum must
// match. A record below TAIL that fails is corruption, reported as
// ErrRingCorrupt with the offset, never cut off: a crash cannot produce
// it, because nothing becomes part of the ring before it was persistent.
// Bytes beyond TAIL are ignored: they are an Append that did not finish.
// The data area is not cleared by FormatRing: the records of an earlier
// ring in it lie beyond the new TAIL, and one at an offset the new ring
// reaches is overwritten before TAIL covers it.
//
// Why each step is needed: without 1 or 2 the record may never reach the
// media while TAIL covers it; without 3 the flushes of the record and of
// TAIL are unordered and TAIL may persist first; without 4 or 5 Append
// returns before TAIL is persistent and a power loss forgets an
// acknowledged record; without 6 HEAD stays at its old value on the media
// and recovery scans records that later appends overwrote; without 7 the
// next Append's stores into the released space may reach the media before
// HEAD does, with the same result. TestRingPowerLossNeedsEveryStep shows
// each of these with the simulator. In FormatRing: without 8 or 9 the new
// superblock can persist under the old magic number with the old HEAD and
// TAIL, handing the old ring's records to the new log, or the old ring
// can persist with the new HEAD or TAIL; without 11 the magic can persist
// before the superblock or HEAD and TAIL it makes count, with the same
// results; without 10, 12 or 13 FormatRing returns before the new ring is
// persistent. TestRingFormatNeedsEveryStep shows each of these.
//
// # What the tests prove, and what they do not
//
// Sim models an ADR platform: a store is in the CPU cache until a Flush
// copies its line and a Fence makes the copies persistent; a power loss
// keeps what was fenced plus, word by word, any share of what was flushed
// or only stored (the cache may write a dirty line back at any time).
// TestRingPowerLoss takes thousands of such images at random Flush and
// Fence instants over a workload that wraps the ring many times, and
// every one must reopen with every acknowledged, unreleased record, in
// order, and nothing corrupt. TestRingFormatPowerLoss does the same at
// every Flush and Fence of FormatRing over a region that held another
// log's ring, nothing, or garbage: each image holds the old ring
// untouched, the new one empty, or (before FormatRing returned) no ring.
// That proves the protocols correct under the
// model: 8-byte failure atomicity, no ordering of flushed lines without a
// fence, arbitrary early write-back. It does not prove that the hardware
// keeps the model (that the platform really has ADR, that the region is
// in its persistence domain), nor that Flush and Fence issue the right
// instructions: those are the region's job (Info says which instruction
// and which domain), checked on real hardware only.
//
// The emulated region is a file on tmpfs mapped shared: it survives the
// process (a SIGKILL, a panic) because the page cache outlives it, but
// not a power loss or a reboot. Figures measured on it are labelled
// emulated; its flushes and fences still run, so it costs what the
// instructions cost, and media latency can be added to model slower
// persistent media.
package adr
