// Package segment is the on-disk log format shared by the file-backed raft
// log backends (batched, fsync, async, and the drainer of adr): a directory
// of preallocated segment files holding checksummed records of raft
// entries, HardStates, snapshot metadata and compaction points.
//
// # Files
//
// A log directory holds segments named by a sequence number, in hex:
// 0000000000000000.seg, 0000000000000001.seg, ... Each is created at
// Options.SegmentSize bytes (64 MiB by default, as etcd's WAL) with
// fallocate, synced and its name made durable before any record is written
// to it, so appends never change its size and fdatasync has no metadata to
// write. Records are appended until the next one does not fit; then the
// segment is synced and the next one created. Every segment starts with the
// current state (snapshot, compaction point, HardState) so that, after a
// compaction, the segments holding only compacted entries can be deleted
// and the rest still replay to the whole state.
//
// # Records
//
// Records start at multiples of 8 bytes:
//
//	 0       4    5         8                16              16+length    padded to 8
//	 +-------+----+---------+----------------+-------...-------+--...--+
//	 | crc   |type| 0 0 0   | length         | payload         | 0 pad |
//	 +-------+----+---------+----------------+-------...-------+--...--+
//
//	field    bytes  meaning
//	crc      4      CRC-32C (Castagnoli), little-endian, of bytes 4 .. 16+length
//	type     1      1 entry, 2 HardState, 3 snapshot taken locally,
//	                4 snapshot installed from a leader, 5 compaction point
//	reserved 3      zero
//	length   8      payload length, little-endian
//	payload  length the protobuf encoding of raftpb.Entry, raftpb.HardState or
//	                raftpb.Snapshot; for a compaction point the index and term
//	                as two little-endian uint64s
//	pad      0-7    zero
//
// Type 0 is never written, so a zeroed header means "nothing here": the end
// of the written part of a segment.
//
// # Replay
//
// Records are applied in order: an entry whose index is already present
// truncates the log there (raft overwrote a conflicting suffix; the later
// record wins), a compaction point drops the entries at or below it, an
// installed snapshot restarts the log after its index, a local snapshot
// only becomes the current snapshot.
//
// # Recovery
//
// The hardware assumptions: a sector (512 bytes) is written atomically;
// after a power loss each sector written since the last completed fdatasync
// holds either what was written or its previous content, which is always
// zero because segments are preallocated with zeros and only appended to.
// Writes that were not synced may reach the disk out of order. Every
// segment but the last was synced whole before the next was created, so
// only the last can hold writes no sync covered.
//
// Replay reads each segment from the start until a record is not valid
// (header sane, length inside the file, checksum right). What is there
// decides what happens:
//
//  1. Zeros to the end of the file: the normal end of the segment; replay
//     goes on with the next.
//  2. In the last segment, a zeroed header with written (non-zero) bytes
//     after it: a write that was lost while later ones landed.
//  3. In the last segment, a torn record: its header is not zero and some
//     sector's share of it reads as zero, no record written after it lies
//     inside it, and no single flipped bit of its header makes it valid
//     (a length that one flipped bit stretched into the zeros after the
//     log would otherwise look torn).
//  4. Anything else is damage no crash explains, and Open fails with an
//     error wrapping logbackends.ErrCorrupt that names the file and offset:
//     a record whose written sectors fail its checksum or framing, at the
//     end of the log as anywhere else; any invalid record, or written
//     bytes after the end, in a segment that was synced whole. The log is
//     never truncated there.
//
// Cases 2 and 3 are the unsynced tail of a crash: nothing from there on was
// acknowledged as durable, since a sync would have made all of it durable.
// That torn tail is cut: the last segment is truncated at the damage and
// extended with zeros again, then synced, so the next append lands on
// zeros. The cut is logged (file, offset, and how many written bytes were
// discarded) and reported in State.Cut, which the backends count in their
// Stats. Replay then checks the entries are contiguous from the compaction
// point.
//
// Like etcd's WAL, the torn-or-corrupt rule is a heuristic at the margin:
// damage to the last record that leaves a whole sector's share of it zero
// (a record whose true content has such a share, say) is taken for a torn
// write.
//
// A crash just after a segment switch can leave the new segment without
// the state records it starts with; Open writes them again ahead of the
// next append, so that removing the older segments never loses them.
// Open creates the log directory and its missing parents durably: each
// directory it creates, and the parent of the first, is synced.
//
// Replay reads the segments one at a time, each only up to where its data
// ends. A file that can say where that is (vfs.DataFinder: on Linux lseek's
// SEEK_DATA and SEEK_HOLE, to which a preallocated extent nothing was
// written to is a hole) spares it reading the preallocated zeros, so an
// open costs what was written, not the segments' size; any other file is
// read whole. The bytes after that offset read as zeros, so they are not
// read or scanned, and the rules above are applied to the file exactly as
// it reads: when anything but zeros follows the valid records (a record
// reaching past the data, whose payload ends in zeros or whose last sectors
// a crash lost, or the written bytes of cases 2 to 4), the checks run on
// the whole file with those zeros, since cases 2 and 3 need what lies after
// the end of the valid records and a cut must zero-fill everything written
// there.
//
// # Writing
//
// Log buffers records in one reusable buffer (entries are encoded with
// proto.MarshalOptions.MarshalAppend straight into it), Flush hands the
// buffer to the file system with one write call, and Sync adds one
// fdatasync. A backend that syncs once per Ready appends everything and
// calls Sync once; one that syncs every entry calls Sync after each.
//
// On ext4 and XFS a preallocated segment is an unwritten extent, and the
// fdatasync of a record written into one converts the extent under it: a
// journal commit on every sync, which a disk's fio fdatasync test pays too.
// With Options.ZeroAhead (DefaultZeroAhead, 1 MiB, for the backends) Flush
// writes the zeros ahead of the records as well, topping them up when
// less than half is left, so one conversion covers a MiB of records and
// most syncs write data only. The zeros are what the segment reads as
// anyway: the recovery rules and the hardware model are unchanged (an
// unsynced sector still holds what was written or zero), and replay reads
// at most that much past the records.
package segment
