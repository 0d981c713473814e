package watch

import "go.etcd.io/etcd/api/v3/mvccpb"

// History is what the hub needs from the MVCC store. It is called from the
// hub's catch-up goroutine and from every stream's send goroutine, so it must
// be safe for concurrent use, and it is never called with the hub's lock held.
type History interface {
	// Rev is the latest revision whose events are readable through Events.
	Rev() int64
	// CompactRev is the revision the store was last compacted at.
	CompactRev() int64
	// Events returns the events with fromRev <= mod revision <= toRev in
	// revision order whose key is in [key, end): end nil means key alone,
	// end "\x00" means every key >= key. It returns at most limit events
	// (0: no limit), possibly cutting a revision short. It fails with an
	// error that Config.IsCompacted recognises when fromRev has been
	// compacted. PrevKv is not filled. The returned slice belongs to the
	// caller (the hub reorders and trims it); the events it points to may
	// be shared and are never modified by the hub.
	Events(key, end []byte, fromRev, toRev int64, limit int) ([]*mvccpb.Event, error)
	// KVAt returns the key's value live at rev, nil when it had none.
	KVAt(key []byte, rev int64) (*mvccpb.KeyValue, error)
}
