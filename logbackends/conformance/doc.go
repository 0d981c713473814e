// Package conformance is the one test suite every log backend runs:
// Run(t, Factory) checks the raft.Storage read side against what
// raft.MemoryStorage does, overwrites of a conflicting suffix, snapshots and
// compaction, reopening, and the backend's durability promise.
//
// # The crash cases
//
// The promise is checked under a load shaped like what raft asks of a
// follower's log, with what a crash must not undo varied on purpose
// (load.go): appends with and without a HardState, commit-only HardStates
// saved without a sync, term bumps and votes in HardState-only Saves,
// overwrites of an uncommitted suffix by a later term's entries, snapshots
// installed from a leader (ahead of the log or inside a conflicting
// suffix), and local snapshots with compaction over small segments. Every
// operation is recorded before it is made, so one in flight is known.
//
// A recovered log is checked against a model (model.go): it must be the
// state of the operations acknowledged as durable by the crash (the
// floor), or the state some later prefix of the records written after them
// leaves (an installed snapshot, each entry, the HardState, in log order),
// compared exactly: HardState term, vote and commit, first and last index,
// every entry's term and data, the snapshot's index. A log that matches no
// prefix is reported against the floor: the term, vote, commit or entry
// term that was acknowledged and is gone. Some points also write on after
// recovery (appends without a HardState over more than a segment, a
// snapshot and a compaction past everything recovered, a new term), close,
// reopen and compare again, which shows a recovery that left a log whole
// until the segments it recovered from were removed.
//
// The cases:
//
//   - crash clones of an in-memory file system (vfs.Mem) taken at random
//     syncs and between operations, a uniform sample over the whole load;
//     a crash-safe backend's floor is every Save made with mustSync and
//     every CreateSnapshot that returned;
//   - for a backend that syncs on its own schedule (Durability
//     SyncedWindow: async), the suite watches its file syncs through a
//     vfs.FS decorator: the floor is what had returned before the start of
//     the last completed sync, so it loses no more than its window;
//   - a backend that takes concurrent Saves (logbackends.ConcurrentSaver)
//     is also crash-cloned under several writers;
//   - a backend with a persistent-memory region (Factory.RegionSize: adr)
//     runs on an adr.Sim and gets the power-loss case instead: power
//     losses before random Flush and Fence calls of the region (where
//     nothing stores into it) and at the start of disk syncs (imaging only
//     what Flush and Fence reached), each imaging the region while the file
//     system is held still (vfs.Mem.CrashCloneWith), so region and disk
//     belong to one instant; the drainer is now and then held until a
//     Save finds the ring full, so appends land in space just released.
//
// Each crash case has a negative control: the same case on a disk whose
// every fdatasync returns before what it covers is durable
// (vfs.Mem.MisorderSyncs), the sync misordered with the acknowledgement
// (or, for adr, the ring space released) that depends on it. The case must
// find acknowledged writes lost; a case that cannot is no test.
//
// The crash cases are sized for CI; SoakEnv (ADRBENCH_CRASH_SOAK=n)
// multiplies their crash points for a soak.
//
// Backends that keep segment files also get torn tails (cut, counted in
// Stats and logged), corruption of a record in the middle and of the last,
// synced record (refused, naming file and offset), and a full disk.
//
// Flags checks a backend's Config the way every backend keeps it: each
// setting bound to a flag named after the backend, and Validate naming the
// bad flag.
//
// The suite opens backends on a vfs.Mem through Env.FS and asks, through
// Params, for small segments and a short sync interval, which each
// backend's test puts into its own Config; so it runs in memory and
// quickly under the race detector.
package conformance
