// Package lossyfs is a FUSE file system for power-loss tests of real
// processes: it passes every operation through to a backing directory but
// keeps what was not made durable in memory, and a power cut drops it, so
// that the backing directory holds exactly what fsync and fdatasync made
// durable, as a disk would after losing power. It follows LazyFS's page
// cache model and is built on go-fuse's fs package.
//
// # The model
//
// Regular files:
//
//   - A write goes into a volatile overlay of 4 KiB pages, not into the
//     backing file. Reads through the mount see the backing file with the
//     overlay on top: every write is visible at once to every reader.
//   - A size change is volatile too: truncate (ftruncate, O_TRUNC) and
//     fallocate in mode 0 (the preallocation of log segments) change the
//     size seen through the mount only. FALLOC_FL_KEEP_SIZE changes nothing
//     visible and is accepted; other fallocate modes fail with EOPNOTSUPP.
//     Bytes cut by a truncate read as zeros if the file grows again.
//   - fsync and fdatasync of a file, through any descriptor of it, make all
//     of its volatile changes durable: the backing file is cut where a
//     truncate cut it, the dirty pages are written, and its size is set.
//     Nothing else makes anything durable: not close, not a sync of another
//     file, not unmounting.
//   - A power cut (PowerCut) drops every overlay: each backing file keeps
//     the contents and size of its last sync, or of when it was first seen.
//
// Names (create, mkdir, unlink, rmdir, rename), by Options.Namespace:
//
//   - NamespaceImmediate: an operation is applied to the backing directory
//     at once and survives a cut, as in LazyFS; the file it names keeps only
//     synced contents (a file created and written but never synced is
//     empty after a cut). Directory fsyncs are counted and change nothing.
//   - NamespaceDirSync: an operation is applied to the backing directory at
//     once but recorded, and a cut undoes, newest first, every one whose
//     directory was not fsynced since; a rename waits for both of its
//     directories. Removed and replaced entries wait in a hidden directory
//     of the backing root (trashName) until then. This is what POSIX
//     promises: a new file is not durable until its directory is synced,
//     and neither is a new directory until its parent is. Directories
//     renamed while operations inside them wait are not modelled exactly.
//
// Mode, owner and times pass through at once in both models. Hard links,
// symbolic links, device nodes, extended attributes and RENAME_EXCHANGE
// are not supported.
//
// # Power cut, unmount and mount
//
// PowerCut may be called mounted or not. From the cut on, every operation
// on the mount fails with EIO, as a machine without power answers nothing;
// Unmount and Mount power it on again. The remount matters: the kernel
// keeps the pages it read or wrote through the mount in its page cache,
// and only a new mount starts without them. The processes using the mount
// should be killed before the cut.
//
// # Pass-through and sync delays
//
// Options.PassThrough turns the model off for tests that need a disk
// that stalls rather than one that loses power: writes, truncates and
// allocations go to the backing files at once, nothing is held in memory,
// and a cut drops nothing (it needs NamespaceImmediate). SetSyncDelay
// slows every fsync and fdatasync under a directory of the mount, in
// either mode, while processes run on it: a disk stall of one member of a
// cluster whose data directories share the mount. A delayed sync waits
// before it takes the file system's lock, so a stall holds up nothing but
// the syncs it slows; ending it releases them.
//
// # Kernel caching
//
// The mount runs in FUSE's write-through mode (go-fuse never enables the
// writeback cache): every write reaches the overlay before write(2)
// returns, and a read of a page the kernel does not hold comes to the
// overlay. Pages the kernel does hold were filled from writes and reads
// through this mount, so they match the overlay, and shared read-only
// mmap, as bbolt maps its database, sees every write. Direct I/O is not
// used, since it would rule out that mmap.
//
// # Requirements
//
// /dev/fuse, and either root (Mount calls mount(2) itself) or fusermount3
// on PATH (Debian: apt-get install fuse3). Available reports what is
// missing. The process that serves the mount may read and write files on
// it, as the tests do, but must not map them: a page fault on the mount
// blocks its thread where the Go scheduler cannot see it, and a garbage
// collection that waits for that thread stops the server that would
// answer the fault. go-fuse also documents deadlocks when such a process
// forks with GOMAXPROCS=1 while it holds descriptors on the mount; the
// e2e tests start members with log files on the mount open, so they need
// GOMAXPROCS of 2 or more.
//
// Counters (Stats, CutStats) report bytes written, file and directory
// syncs, and what each cut dropped: bytes written and not synced, files
// with volatile changes, and namespace operations undone.
package lossyfs
