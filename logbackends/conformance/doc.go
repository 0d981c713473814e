// Package conformance is the one test suite every log backend runs:
// Run(t, Factory) checks the raft.Storage read side against what
// raft.MemoryStorage does, overwrites of a conflicting suffix, snapshots and
// compaction, reopening, and the backend's durability promise: crash clones
// of an in-memory file system (vfs.Mem) taken at random points of a write
// load, including in the middle of a sync, must hold every entry and
// HardState the backend acknowledged as durable. A backend that syncs on
// its own schedule (Durability SyncedWindow: async) is held to what it
// promises instead: the suite watches its file syncs through a vfs.FS
// decorator and every clone must hold what was acknowledged before the
// start of the last completed sync, so it loses no more than its window.
// A backend that takes concurrent Saves (logbackends.ConcurrentSaver) is
// also crash-cloned under several writers: every Save that returned nil
// before a clone must be in it.
// Backends that keep segment files also get torn tails, mid-log corruption
// and a full disk.
// A backend with a persistent-memory region (Factory.RegionSize: adr) runs
// on an adr.Sim and gets the power-loss case: thousands of simulated power
// losses at random Flush and Fence instants of the region, each imaging
// the region first and then the disk, so the disk is never older than the
// ring's HEAD; a backend reopened on both must hold everything
// acknowledged. Its region can be imaged only at those instants (another
// goroutine may be storing into it at any other), so the disk-only crash
// clone cases skip it.
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
