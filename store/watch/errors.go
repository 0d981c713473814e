package watch

import "errors"

// Errors carried in the CancelReason of a Created response that refuses a
// watch. Their text matches etcd's so that clients and etcdctl print the same
// thing; compare with errors.Is, never by text.
var (
	// ErrDuplicateWatchID rejects a create request whose client-chosen watch
	// id is already in use on the stream.
	ErrDuplicateWatchID = errors.New("mvcc: duplicate watch ID provided on the WatchStream")
	// ErrEmptyRange rejects a create request whose range_end is not above
	// its key.
	ErrEmptyRange = errors.New("mvcc: watcher range is empty")
	// ErrCompacted is the reason given when a watch's start revision, or the
	// revision a slow watcher had reached, has been compacted away.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrHistory is the reason given when History fails for another reason
	// while a watcher catches up; the watcher is canceled rather than left
	// with a gap.
	ErrHistory = errors.New("watch: reading history failed")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("watch: invalid config")
)
