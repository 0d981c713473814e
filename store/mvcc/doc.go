// Package mvcc is the state machine of the store: etcd v3's multi-version
// key space (revisions, ranges, transactions, compaction) and the durable
// half of leases, kept in a bbolt file. It knows nothing of raft: the
// caller hands it committed entries with Apply, in index order, and reads
// with Range, Events and KVAt from any goroutine.
//
// # Design
//
// Every write request that changes something gets the next main revision;
// each key it writes gets a sub revision. A value is stored once, under
// its revision, as an encoded mvccpb.KeyValue; an in-memory index maps
// each key to its generations of revisions, like etcd's keyIndex: a
// B-tree (github.com/google/btree, as etcd's treeIndex) orders the keys
// for ranges and compaction, and a map serves point lookups.
//
// Writes go into one long-lived bbolt write transaction, the batch, which
// commits every BatchInterval or BatchLimit writes, never once per write:
// the raft log makes writes durable, the state machine only has to be
// consistent with its ConsistentIndex. The index and the batch's writes
// are kept in memory (the uncommitted buffer, in revision order), so a
// read sees every applied write at once: it picks revisions from the index
// and their values from the buffer under a read lock, and reads the rest
// from a bbolt read transaction begun under the same lock. Reads never
// wait for a commit; a commit only swaps the buffer out after bbolt has
// the writes.
//
// Compaction runs inside the Apply that carries it: the index drops the
// revisions not needed at or after the compaction revision and bbolt
// deletes them in the same batch, so reads never see a half-compacted
// store and the physical flag is always honoured. The compaction revision
// itself stays readable (Range at it, Events from it), as in etcd.
//
// # On-disk layout (bbolt buckets)
//
//	key    main(8, big-endian) '_' sub(8, big-endian) ['t']  ->  KeyValue
//	       't' marks a deletion; its value is {Key, ModRevision}.
//	meta   "consistent_index" -> uint64, "current_rev" -> uint64,
//	       "compact_rev" -> uint64 (all big-endian)
//	lease  ID(8, big-endian) -> TTL(8, big-endian)
//
// The consistent index and current revision are written into the batch
// right before it commits, so they always describe exactly the data they
// were committed with.
//
// # Recovery
//
// Open scans the key bucket in revision order to rebuild the index and the
// key-to-lease attachments (each live key's latest value names its lease).
// After a crash the file holds the last committed batch: data, consistent
// index and revision roll back together, and raft replays the entries
// above ConsistentIndex; Apply skips those at or below it with
// ErrAlreadyApplied.
//
// # Quota
//
// QuotaBytes is checked against LogicalSize, the bytes of the stored
// records, which depends only on the applied entries: every member decides
// the same for the same entry. The file size (Size) also depends on when
// batches committed and how bbolt reused pages, so it would let members
// diverge.
package mvcc
