// Package watch is the watch hub of the store: it turns the MVCC store's
// stream of applied revisions into etcd v3 Watch responses, one Stream per
// gRPC Watch stream, without ever missing, repeating or reordering an event
// for a watcher and without ever making the apply path wait for a reader.
//
// # Synced and unsynced watchers
//
// The hub keeps hub.rev, the last revision the store passed to Notify. Every
// watcher is in one of two groups:
//
//   - synced: it has been given every matching event up to hub.rev. Synced
//     watchers sit in an index (a map for single keys, an AVL interval
//     tree over the distinct ranges) that Notify consults per event: its
//     cost grows with the logarithm of the number of ranges and with the
//     watchers that match, and it allocates nothing for the others.
//   - unsynced: it still needs events from its minRev on. Notify ignores it;
//     the hub's catch-up goroutine reads its missing events from History,
//     without holding the hub's lock, a bounded batch at a time.
//
// A watcher created from a past revision starts unsynced. A synced watcher
// whose stream's queue is full when Notify has an event for it moves to
// unsynced with minRev = that revision: nothing is dropped, it reads the
// revision back from History later. An unsynced watcher rejoins the synced
// group, under the hub's lock, exactly when its minRev is hub.rev+1, so the
// next Notify is the next revision it needs. Because Notify and the
// catch-up's final step both hold the hub's lock, and only the one catch-up
// goroutine moves an unsynced watcher's minRev, the two paths never overlap
// or leave a gap. Catch-up reads are cut at revision boundaries, so a
// revision's events always travel in one response.
//
// A catch-up read that History reports compacted ends the watcher with
// etcd's compacted response (CompactRevision set, Canceled), both for a watch
// created from a compacted revision and for one that fell behind past a
// compaction.
//
// # Streams
//
// Each Stream has one ordered queue, bounded in event responses by
// Config.StreamBuffer (control responses are never refused), and one send
// goroutine that moves it to Chan. Created is queued before the watcher can
// receive anything, and Canceled after the watcher has left the index, so a
// watcher's responses are always Created, events, then at most one Canceled
// or compacted response. The send goroutine fills prev_kv from
// History.KVAt and fragments responses, off the apply path, as etcd's
// server send loop does.
//
// # Progress
//
// RequestProgress answers with watch id -1 and the hub's revision once no
// watcher of the stream is catching up; because the answer is queued after
// every event response already queued, it promises that all events up to
// that revision have been sent. Watchers created with progress_notify get a
// progress response on each Config.ProgressNotifyInterval tick in which
// nothing else was sent to them, if they are synced.
package watch
