// Package latency is the fixed-bucket latency histogram that the raft log
// backends (sync latency) and the state machine (bbolt commit latency)
// record into, and that the store exports on /metrics and the harness
// reads back into results.
//
// It is a package of its own because it belongs to none of its users: the
// log backends, the MVCC store, the metrics endpoint and the harness all
// speak it, and none of them should import another only for it.
//
// Recording uses atomics only, so a Snapshot taken by a scrape never waits
// for a writer, and a writer never waits for a scrape. The buckets double
// from about 1 µs to 8.192 s; the ones from 1 ms up are exactly the buckets
// of etcd's etcd_disk_wal_fsync_duration_seconds and
// etcd_disk_backend_commit_duration_seconds, so a Snapshot exports under
// those names with every one of etcd's bounds.
package latency
