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
// and serves ranges, compaction and point lookups.
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
// the writes. ReadTxn evaluates a transaction without writes the same
// way, outside Apply, holding the read lock for its whole evaluation so
// that its compares and ranges see one revision.
//
// Compaction is split as etcd splits it. The Apply that carries it
// records the compaction revision in the batch and drops from the index
// every revision not needed to read at it or later, so every read after it
// sees the compacted key space; the records the index dropped are queued,
// and a compactor goroutine deletes them from bbolt in batches of
// CompactionBatchLimit (1000), committing each, with CompactionPause
// (10 ms) between batches, so a large compaction never holds Apply for
// more than one batch. A crash in the middle loses nothing: Open rebuilds
// the index from every record left, compacts it again at the persisted
// compaction revision and queues the rest. Hash and HashKV finish a
// running compaction first; a write that would exceed the quota only with
// the queued records counted deletes them first (see Quota); a physical
// compaction waits for them (WaitCompaction). The compaction revision
// itself stays readable (Range at it, Events from it), as in etcd.
//
// Defragment rewrites the file compactly, as etcd's defragmentation does:
// every bucket copied in key order into a new file beside it, synced and
// renamed over it. bbolt only reuses the pages compactions free; this
// gives them back to the file system. Size is the file's size in pages,
// SizeInUse leaves out the free ones (etcd's DbSize and DbSizeInUse).
//
// # On-disk layout (bbolt buckets)
//
//	key     main(8, big-endian) '_' sub(8, big-endian) ['t']  ->  KeyValue
//	        't' marks a deletion; its value is {Key}, as etcd's, and
//	        readers take its ModRevision from the revision key.
//	meta    "consistent_index" -> uint64, "current_rev" -> uint64,
//	        "compact_rev" -> uint64 (all big-endian)
//	lease   ID(8, big-endian) -> TTL(8, big-endian)
//	members member ID(8, big-endian) -> ClusterMemberAttrSetRequest
//	alarm   AlarmMember (encoded) -> empty
//
// The consistent index and current revision are written into the batch
// right before it commits, so they always describe exactly the data they
// were committed with. The consistent index follows every raft entry,
// those without a request too (Skip), so it reaches every index the raft
// log may record a snapshot at.
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
// A failed write or commit of the batch (ErrBackend) fails the store for
// good (Err, Failed): bbolt rolled the batch back, so memory holds writes
// the file does not, and from then on Apply, Skip and every read return
// the failure and no watcher is told of anything. The member must stop
// and replay its log into the file as it was last committed.
//
// Restore takes a database from another member only once it checks out:
// it opens as bbolt and is as long as its pages say, every bucket reads
// back in key order and each key is found again by a seek, the records
// decode, its consistent index is at least the raft snapshot's index, and
// bbolt's own consistency check passes.
//
// # Hashes
//
// Hash and HashKV are etcd's, CRC-32C (Castagnoli), so members can be
// compared with etcdctl: Hash covers every bucket but the consistent
// index; HashKV(rev) covers the key bucket up to rev, leaving out the
// revisions at or below the compaction revision that a compaction at rev
// would remove. Members that applied the same entries and compacted at the
// same revision have equal hashes at every revision both hold.
//
// # Alarms
//
// Alarms go through raft and live in the alarm bucket, so every member has
// the same ones and they survive restarts. While a CORRUPT alarm is raised
// every request that would change the key space or the leases fails with
// ErrCorruptAlarm; reads go on.
//
// # Quota
//
// QuotaBytes is checked against LogicalSize, the bytes of the stored
// records, which depends only on the applied entries: every member decides
// the same for the same entry. While a compaction deletes in the
// background, LogicalSize still counts the records it has not reached,
// which differs between members; a write that fits even so is accepted,
// and one that does not first deletes the queued records inside its Apply,
// so that the decision is made on the same figure everywhere. The file size (Size) also depends on when
// batches committed and how bbolt reused pages, so it would let members
// diverge.
package mvcc
