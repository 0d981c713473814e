// Package conformance is the one test suite every log backend runs:
// Run(t, Factory) checks the raft.Storage read side against what
// raft.MemoryStorage does, overwrites of a conflicting suffix, snapshots and
// compaction, reopening, and the backend's durability promise: crash clones
// of an in-memory file system (vfs.Mem) taken at random points of a write
// load, including in the middle of a sync, must hold every entry and
// HardState the backend acknowledged as durable. Backends that keep segment
// files also get torn tails, mid-log corruption and a full disk.
//
// The suite opens backends on a vfs.Mem through Options.FS, with small
// segments, so it runs in memory and quickly under the race detector.
package conformance
