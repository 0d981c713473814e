// Package fsync is the log backend that keeps raft's stable-storage rule
// entry by entry: the baseline of the Intel story, where every inbound entry
// is written to disk and synced before the follower acknowledges it.
//
// Promise: when Save returns nil, every entry it was given reached stable
// storage on its own, in order: entry k was written (one segment append and
// one write call) and fdatasync'ed before entry k+1 was written. An
// installed snapshot is synced before the first entry. The HardState is
// written after the last entry with its own fdatasync when raft.MustSync
// says the Ready needs one (a term or vote change, or new entries); a
// HardState that only moves the commit index is written but not synced, as
// in etcd, because raft recovers the commit index from its peers.
// CreateSnapshot and Compact are durable when they return.
//
// So a Save of n entries costs n fdatasyncs, plus one for its HardState:
// on a single writer the backend runs at the device's fdatasync rate and no
// faster, which is the point. Group commit is the batched backend's job.
//
// The format, replay, mirror and statistics are those of every file
// backend (logbackends/segment and logbackends/internal/filelog); only the
// write policy is this package's. Its one setting is Config.SegmentSize
// (--fsync-segment-size).
package fsync
