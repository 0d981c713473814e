// Package filelog is what the segment-log backends (batched, fsync, async)
// share: opening and replaying a segment.Log, the raft.Storage mirror rebuilt
// from it, CreateSnapshot, Compact, Close, counters and Stats. A backend is
// this core plus one Writer, the function that decides how a checked Save is
// written and synced: that function is the durability policy and the only
// thing the backends differ in, so a difference in their figures comes from
// the policy and not from diverging copies of the same plumbing.
//
// OpenGroup gives batched's group-commit mode instead (group.go): Saves may
// overlap, each appends under the mutex in the order it took it, and one of
// them leads a single fdatasync for all that appended before it synced.
//
// The core serialises the log's writers with one mutex. For batched and
// fsync the Ready loop is the only writer and the mutex is never contended;
// async adds a background goroutine that syncs through SyncNow, and the
// mutex is what keeps segment.Log single-writer as it requires. Readers
// (raft.Storage, Stats) never take it, so they never wait for a sync.
package filelog
