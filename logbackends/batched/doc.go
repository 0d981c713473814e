// Package batched is the log backend that behaves as etcd's WAL does, and
// with a group-commit window lets concurrent callers share fdatasyncs.
//
// Promise: when Save returns nil, the snapshot, entries and HardState it was
// given are on stable storage, all of them made durable by one fdatasync
// (when raft.MustSync says the Ready needs one; a Ready that only moves the
// commit index is written but not synced, as in etcd, because raft can
// recover a lost commit index from its peers). CreateSnapshot and Compact
// are durable when they return.
//
// Records go to the shared segment format (logbackends/segment): a Save
// encodes everything into one buffer, hands it to the kernel with one write
// and syncs once. Reads are served from a raft.MemoryStorage mirror that
// Open rebuilds by replaying the segments, so raft's reads never touch the
// disk and never wait for a sync.
//
// Config.SegmentSize (--batched-segment-size) sizes the segments, 64 MiB
// by default as in etcd.
//
// Config.GroupCommitWindow (--batched-group-commit-window): at zero, the
// default, every Save makes its own fdatasync before it returns, and Saves
// must not overlap, as the Backend contract says. Above zero the backend implements
// logbackends.ConcurrentSaver, the contract's one exception: Saves from
// several goroutines may overlap; each is appended under the writer lock in
// the order it took it, and the first that needs a sync while none is under
// way leads one: it waits the window (without the lock, so others append
// behind it), then makes one fdatasync covering every Save appended so far.
// No Save returns before a sync that covers it, so the promise above holds
// unchanged; what changes is that one sync acknowledges many Saves (Stats:
// EntriesSaved/Syncs entries per sync). What overlapping callers may pass
// is in ConcurrentSaver's comment: appends that continue the log, no
// overwrite and no snapshot while another Save waits for its sync
// (logbackends.ErrConcurrentSave otherwise). A single writer gains nothing
// from a window and pays it on every Save; the window is for a caller with
// many writers (see docs/decisions/0002-group-commit.md for why the store's
// Ready loop is not one).
package batched
