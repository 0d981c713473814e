// Package vfs is the small file-system interface every file-backed log
// backend writes through, so that tests can replace the disk.
//
// Two implementations are provided. OS is the real file system; its Sync is
// fdatasync(2) on Linux and its Preallocate is fallocate(2), falling back to
// extending the file where the file system does not support it. Mem is an
// in-memory file system that remembers which bytes reached "stable storage"
// (were covered by a Sync) and which did not, so a test can ask what a power
// loss at this instant would leave behind (CrashClone), and can inject the
// failures real disks produce: ENOSPC after a number of bytes (at a sector
// boundary, as a file system that allocates in blocks runs out), EIO from
// every sync, syncs that return before what they cover is durable (a
// misordered sync, for negative controls), and a hook that runs before each
// sync (to add latency or to take crash clones at the most interesting
// moment). CrashCloneWith holds the file system still while the caller
// images something else, so that a clone and, say, a persistent-memory
// region are taken at one instant.
//
// A File may also say where its data ends (DataFinder), so that a reader of
// a preallocated file skips the zeros after what was written: OS asks the
// file system with lseek's SEEK_DATA and SEEK_HOLE, Mem remembers the end of
// the last write. Decorators forward it (DataEnd).
//
// # Crash model of Mem
//
// A write or truncate is volatile until a Sync of the same file completes;
// a file's creation, removal or rename, and a directory's creation, are
// volatile until SyncDir of its directory. CrashClone keeps everything
// durable and, of each volatile operation, keeps it whole, keeps a prefix of
// it cut at a 512-byte sector boundary (a torn write: sectors are assumed to
// be written atomically, the usual assumption for disks and the one etcd's
// WAL makes), or drops it. Volatile writes are decided independently, so
// later writes can survive when earlier ones did not, as the page cache's
// write-back order allows. A file whose directory does not survive does not
// either.
package vfs
