package mvcc

import (
	"bytes"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// inRange reports whether k is in the etcd range [key, end): end empty
// means the single key, end "\x00" means every key >= key.
func inRange(k, key, end []byte) bool {
	switch {
	case len(end) == 0:
		return bytes.Equal(k, key)
	case len(end) == 1 && end[0] == 0:
		return bytes.Compare(k, key) >= 0
	}
	return bytes.Compare(k, key) >= 0 && bytes.Compare(k, end) < 0
}

// scanLocked calls fn, in key order, for each key of [key, end) that has a
// value at rev, with the revision of that value, until fn returns false.
func (s *Store) scanLocked(key, end []byte, rev int64, fn func(ki *keyIndex, r revision) bool) {
	if len(end) == 0 {
		if ki := s.index.get(key); ki != nil {
			if r, ok := ki.at(rev); ok {
				fn(ki, r)
			}
		}
		return
	}
	if len(end) == 1 && end[0] == 0 {
		end = nil // every key >= key
	}
	s.index.ascend(key, end, func(ki *keyIndex) bool {
		r, ok := ki.at(rev)
		return !ok || fn(ki, r)
	})
}

// planLocked returns the revisions of the first limit (0 = all) values in
// the range at rev and the count of all of them; none when countOnly.
func (s *Store) planLocked(key, end []byte, rev int64, limit int64, countOnly bool) ([]revision, int64) {
	var revs []revision
	var count int64
	s.scanLocked(key, end, rev, func(_ *keyIndex, r revision) bool {
		count++
		if !countOnly && (limit <= 0 || int64(len(revs)) < limit) {
			revs = append(revs, r)
		}
		return true
	})
	return revs, count
}

// checkReadRev resolves a requested revision against the current and
// compaction revisions, as etcd does: 0 means current, the compaction
// revision itself is still readable.
func checkReadRev(req, cur, compact int64) (int64, error) {
	switch {
	case req > cur:
		return 0, fmt.Errorf("%w: revision %d > current %d", ErrFutureRev, req, cur)
	case req <= 0:
		return cur, nil
	case req < compact:
		return 0, fmt.Errorf("%w: revision %d < compacted %d", ErrCompacted, req, compact)
	}
	return req, nil
}

// fetchLimit is how many values Range must read before filtering, sorting
// and cutting to r.Limit: all of them when it filters or sorts, one more
// than the limit otherwise so that More can be told.
func fetchLimit(r *etcdserverpb.RangeRequest) int64 {
	if r.SortOrder != etcdserverpb.RangeRequest_NONE || r.MinModRevision != 0 || r.MaxModRevision != 0 ||
		r.MinCreateRevision != 0 || r.MaxCreateRevision != 0 || r.Limit <= 0 {
		return 0
	}
	return r.Limit + 1
}

// Range reads the store without going through raft (a serializable read).
// It never waits for a batch commit and sees every Apply that returned.
// Once the store has failed (Err) it serves nothing: a read that ends
// after the failure returns it, whenever it began.
func (s *Store) Range(r *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error) {
	s.mu.RLock()
	cur := s.rev.Load()
	rev, err := checkReadRev(r.Revision, cur, s.compactRev.Load())
	if err != nil {
		s.mu.RUnlock()
		return nil, fmt.Errorf("mvcc: range %q: %w", r.Key, err)
	}
	revs, count := s.planLocked(r.Key, r.RangeEnd, rev, fetchLimit(r), r.CountOnly)
	vals, tx, err := s.pickLocked(revs)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	kvs, err := fillValues(revs, vals, tx)
	if err != nil {
		return nil, err
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("mvcc: range %q: %w", r.Key, err)
	}
	return finishRange(r, kvs, count, cur), nil
}

// pickLocked takes the encoded values of revs that are still in the
// uncommitted buffer, and begins a bbolt read transaction when some are
// not: begun under mu, it holds everything committed before the buffer
// last shrank. The caller reads the rest from it after releasing mu.
func (s *Store) pickLocked(revs []revision) ([][]byte, *bbolt.Tx, error) {
	vals := make([][]byte, len(revs))
	need := false
	for i, r := range revs {
		if r.main > s.committedRev {
			v, ok := s.bufferedLocked(r)
			if !ok {
				return nil, nil, fmt.Errorf("%w: revision %d.%d missing from batch", ErrCorrupt, r.main, r.sub)
			}
			vals[i] = v
		} else {
			need = true
		}
	}
	if !need {
		return vals, nil, nil
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, nil, fmt.Errorf("mvcc: begin read: %w", err)
	}
	return vals, tx, nil
}

func (s *Store) bufferedLocked(r revision) ([]byte, bool) {
	i := sort.Search(len(s.buf), func(i int) bool { return !s.buf[i].rev.less(r) })
	if i < len(s.buf) && s.buf[i].rev == r && !s.buf[i].tomb {
		return s.buf[i].val, true
	}
	return nil, false
}

// fillValues decodes vals, reading the missing ones from tx, which it
// then ends.
func fillValues(revs []revision, vals [][]byte, tx *bbolt.Tx) ([]*mvccpb.KeyValue, error) {
	if tx != nil {
		defer func() { _ = tx.Rollback() }()
	}
	var kb *bbolt.Bucket
	if tx != nil {
		kb = tx.Bucket(bucketKey)
	}
	kvs := make([]*mvccpb.KeyValue, len(revs))
	var key [revKeyLen + 1]byte
	for i, r := range revs {
		v := vals[i]
		if v == nil {
			v = kb.Get(putRevKey(key[:], r, false))
			if v == nil {
				return nil, fmt.Errorf("%w: revision %d.%d missing", ErrCorrupt, r.main, r.sub)
			}
		}
		kv := new(mvccpb.KeyValue)
		if err := proto.Unmarshal(v, kv); err != nil {
			return nil, fmt.Errorf("%w: revision %d.%d: %v", ErrCorrupt, r.main, r.sub, err)
		}
		kvs[i] = kv
	}
	return kvs, nil
}

// finishRange applies etcd's post-read steps: revision filters, sort,
// limit (setting More) and keys_only. Count stays the number of keys in
// the range, before filters and limit, as in etcd.
func finishRange(r *etcdserverpb.RangeRequest, kvs []*mvccpb.KeyValue, count, cur int64) *etcdserverpb.RangeResponse {
	keep := kvs[:0]
	for _, kv := range kvs {
		if (r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) ||
			(r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
			(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) ||
			(r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision) {
			continue
		}
		keep = append(keep, kv)
	}
	kvs = keep
	order := r.SortOrder
	switch {
	case r.SortTarget != etcdserverpb.RangeRequest_KEY && order == etcdserverpb.RangeRequest_NONE:
		order = etcdserverpb.RangeRequest_ASCEND // etcd sorts ascending when only a target is given
	case r.SortTarget == etcdserverpb.RangeRequest_KEY && order == etcdserverpb.RangeRequest_ASCEND:
		order = etcdserverpb.RangeRequest_NONE // already in key order
	}
	if order != etcdserverpb.RangeRequest_NONE {
		cmp := sortCompare(r.SortTarget)
		if order == etcdserverpb.RangeRequest_DESCEND {
			sort.SliceStable(kvs, func(i, j int) bool { return cmp(kvs[j], kvs[i]) < 0 })
		} else {
			sort.SliceStable(kvs, func(i, j int) bool { return cmp(kvs[i], kvs[j]) < 0 })
		}
	}
	resp := &etcdserverpb.RangeResponse{Header: &etcdserverpb.ResponseHeader{Revision: cur}, Count: count}
	if r.Limit > 0 && int64(len(kvs)) > r.Limit {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly {
		for _, kv := range kvs {
			kv.Value = nil
		}
	}
	if r.CountOnly {
		kvs = nil
	}
	resp.Kvs = kvs
	return resp
}

func sortCompare(t etcdserverpb.RangeRequest_SortTarget) func(a, b *mvccpb.KeyValue) int {
	num := func(f func(*mvccpb.KeyValue) int64) func(a, b *mvccpb.KeyValue) int {
		return func(a, b *mvccpb.KeyValue) int {
			switch x, y := f(a), f(b); {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	switch t {
	case etcdserverpb.RangeRequest_VERSION:
		return num(func(kv *mvccpb.KeyValue) int64 { return kv.Version })
	case etcdserverpb.RangeRequest_CREATE:
		return num(func(kv *mvccpb.KeyValue) int64 { return kv.CreateRevision })
	case etcdserverpb.RangeRequest_MOD:
		return num(func(kv *mvccpb.KeyValue) int64 { return kv.ModRevision })
	case etcdserverpb.RangeRequest_VALUE:
		return func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Value, b.Value) }
	}
	return func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Key, b.Key) }
}

// KVAt returns the value key held at revision rev, or nil if it did not
// exist then. The watch hub uses it for prev_kv (rev = event revision - 1).
func (s *Store) KVAt(key []byte, rev int64) (*mvccpb.KeyValue, error) {
	s.mu.RLock()
	cur, compact := s.rev.Load(), s.compactRev.Load()
	if rev > cur {
		s.mu.RUnlock()
		return nil, fmt.Errorf("mvcc: kv %q at %d: %w: current %d", key, rev, ErrFutureRev, cur)
	}
	if rev < compact {
		s.mu.RUnlock()
		return nil, fmt.Errorf("mvcc: kv %q at %d: %w: compacted %d", key, rev, ErrCompacted, compact)
	}
	var revs []revision
	if ki := s.index.get(key); ki != nil {
		if r, ok := ki.at(rev); ok {
			revs = append(revs, r)
		}
	}
	vals, tx, err := s.pickLocked(revs)
	s.mu.RUnlock()
	if err == nil && len(revs) == 0 {
		err = s.Err()
	}
	if err != nil || len(revs) == 0 {
		return nil, err
	}
	kvs, err := fillValues(revs, vals, tx)
	if err != nil {
		return nil, err
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("mvcc: kv %q at %d: %w", key, rev, err)
	}
	return kvs[0], nil
}

// Events returns the history of [key, end) (end nil: the single key; end
// "\x00": every key >= key) between fromRev and toRev inclusive, in
// revision order. toRev above the current revision means the current
// revision. limit > 0 stops after the revision in which the limit-th event
// was found: a revision's events are never split, so a caller can resume
// at the last event's revision + 1 without loss. The result may therefore
// hold a few more than limit events. PUT events carry the full KeyValue,
// DELETE events {Key, ModRevision}; PrevKv is not filled (see KVAt).
//
// Like an etcd watch, history is available from the compaction revision
// itself: ErrCompacted only when fromRev < CompactRev. A failed store
// (Err) returns no history.
func (s *Store) Events(key, end []byte, fromRev, toRev int64, limit int) ([]*mvccpb.Event, error) {
	fromRev = max(fromRev, 1)
	s.mu.RLock()
	cur, compact := s.rev.Load(), s.compactRev.Load()
	if fromRev < compact {
		s.mu.RUnlock()
		return nil, fmt.Errorf("mvcc: events %q from %d: %w: compacted %d", key, fromRev, ErrCompacted, compact)
	}
	toRev = min(toRev, cur)
	if fromRev > toRev {
		s.mu.RUnlock()
		return nil, nil
	}
	committed := s.committedRev
	var buffered []bufEntry
	if toRev > committed {
		lo := revision{main: max(fromRev, committed+1)}
		i := sort.Search(len(s.buf), func(i int) bool { return !s.buf[i].rev.less(lo) })
		for ; i < len(s.buf) && s.buf[i].rev.main <= toRev; i++ {
			buffered = append(buffered, s.buf[i])
		}
	}
	var tx *bbolt.Tx
	if fromRev <= committed {
		var err error
		if tx, err = s.db.Begin(false); err != nil {
			s.mu.RUnlock()
			return nil, fmt.Errorf("mvcc: events: begin read: %w", err)
		}
	}
	s.mu.RUnlock()

	h := history{key: key, end: end, limit: limit}
	if tx != nil {
		err := h.fromTx(tx, fromRev, min(toRev, committed))
		_ = tx.Rollback()
		if err != nil {
			return nil, err
		}
	}
	for _, e := range buffered {
		if h.full(e.rev.main) {
			break
		}
		if err := h.add(e.rev, e.tomb, e.val); err != nil {
			return nil, err
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("mvcc: events %q from %d: %w", key, fromRev, err)
	}
	return h.evs, nil
}

type history struct {
	key, end []byte
	limit    int
	evs      []*mvccpb.Event
}

// full reports whether the limit was reached before revision main.
func (h *history) full(main int64) bool {
	if h.limit <= 0 || len(h.evs) < h.limit {
		return false
	}
	return h.evs[len(h.evs)-1].Kv.ModRevision != main
}

func (h *history) add(r revision, tomb bool, v []byte) error {
	kv := new(mvccpb.KeyValue)
	if err := proto.Unmarshal(v, kv); err != nil {
		return fmt.Errorf("%w: revision %d.%d: %v", ErrCorrupt, r.main, r.sub, err)
	}
	if !inRange(kv.Key, h.key, h.end) {
		return nil
	}
	ev := &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: kv}
	if tomb {
		// A tombstone records the key only; when is in its revision.
		ev.Type = mvccpb.Event_DELETE
		kv.ModRevision = r.main
	}
	h.evs = append(h.evs, ev)
	return nil
}

func (h *history) fromTx(tx *bbolt.Tx, from, to int64) error {
	c := tx.Bucket(bucketKey).Cursor()
	var start [revKeyLen + 1]byte
	for k, v := c.Seek(putRevKey(start[:], revision{main: from}, false)); k != nil; k, v = c.Next() {
		r, tomb, ok := parseRevKey(k)
		if !ok {
			return fmt.Errorf("%w: revision key %x", ErrCorrupt, k)
		}
		if r.main > to || h.full(r.main) {
			return nil
		}
		if err := h.add(r, tomb, v); err != nil {
			return err
		}
	}
	return nil
}
