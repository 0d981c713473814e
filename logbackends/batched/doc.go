// Package batched is the log backend that behaves as etcd's WAL does.
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
// Options.GroupCommitWindow is not implemented: a window other than zero is
// rejected by Open rather than silently ignored.
package batched
