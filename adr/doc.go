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
//	0          36        64        72       128       136       192                     end
//	+----------+---...---+---------+--...---+---------+--...---+-----------...-----------+
//	|superblock| unused  |  HEAD   | unused |  TAIL   | unused | data area (records)     |
//	+----------+---...---+---------+--...---+---------+--...---+-----------...-----------+
//	 line 0               line 1             line 2             lines 3 ..
//
//	field        offset size  meaning
//	magic        0      8     "ADRRING1"; absent: the region is formatted on open
//	version      8      4     1
//	reserved     12     4     0
//	data offset  16     8     192
//	data size    24     8     region size - 192, rounded down to 8
//	checksum     32     4     CRC-32C of bytes 8..32
//	HEAD         64     8     logical offset of the oldest record kept
//	TAIL         128    8     logical offset just past the newest published record
//
// HEAD and TAIL are logical offsets: they count bytes since the ring was
// formatted and never wrap, a record's place in the data area being its
// offset modulo the data size. TAIL - HEAD is the bytes in use, so an
// empty ring (0) and a full one (data size) are never confused. Each sits
// alone in its cache line, so that flushing one never writes back a store
// to the other or to the superblock; each is written with one aligned
// 8-byte store, the only store x86 makes failure-atomic.
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
// TAIL is the commit point. Open checks the superblock, reads HEAD and
// TAIL and walks every record between them: its header must lie inside
// the data area and below TAIL, its sequence must equal its offset (a
// record left from an earlier lap fails this) and its checksum must
// match. A record below TAIL that fails is corruption, reported as
// ErrRingCorrupt with the offset, never cut off: a crash cannot produce
// it, because nothing becomes part of the ring before it was persistent.
// Bytes beyond TAIL are ignored: they are an Append that did not finish.
//
// Why each step is needed: without 1 or 2 the record may never reach the
// media while TAIL covers it; without 3 the flushes of the record and of
// TAIL are unordered and TAIL may persist first; without 4 or 5 Append
// returns before TAIL is persistent and a power loss forgets an
// acknowledged record; without 6 HEAD stays at its old value on the media
// and recovery scans records that later appends overwrote; without 7 the
// next Append's stores into the released space may reach the media before
// HEAD does, with the same result. TestRingPowerLossNeedsEveryStep shows
// each of these with the simulator.
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
// order, and nothing corrupt. That proves the protocol correct under the
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
