package mvcc

import (
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// writer is one request being applied: every write it makes gets main
// revision rev and the next sub revision.
type writer struct {
	s   *Store
	rev int64 // the revision this request writes at: current + 1
	sub int64 // writes so far
	evs []*mvccpb.Event
}

// viewRev is the revision reads inside the request see: its own writes
// once it has made some.
func (w *writer) viewRev() int64 {
	if w.sub > 0 {
		return w.rev
	}
	return w.rev - 1
}

// Apply applies the committed raft entry at index idx. It returns
// ErrAlreadyApplied for an index at or below ConsistentIndex (replay after
// a restart). Any other error is the request's result (the entry still
// counts as applied, as in etcd) unless it wraps ErrBackend: then the
// store has failed (Err), refuses further entries and reads, and tells
// no watcher of the entry. Responses carry Header.Revision only.
func (s *Store) Apply(idx uint64, r *etcdserverpb.InternalRaftRequest) (proto.Message, error) {
	s.txMu.Lock()
	if err := s.Err(); err != nil {
		s.txMu.Unlock()
		return nil, err
	}
	switch {
	case s.closed:
		s.txMu.Unlock()
		return nil, ErrClosed
	case idx <= s.ci.Load():
		s.txMu.Unlock()
		return nil, fmt.Errorf("%w: index %d <= %d", ErrAlreadyApplied, idx, s.ci.Load())
	}
	if r != nil && r.Range != nil {
		// A read through raft changes nothing but the index; serve it like a
		// local read once this entry counts as applied.
		s.ci.Store(idx)
		s.dirty = true
		s.txMu.Unlock()
		rr, err := s.Range(r.Range)
		if err != nil {
			return nil, err
		}
		return rr, nil
	}
	w := writer{s: s, rev: s.rev.Load() + 1}
	s.mu.Lock()
	resp, err := s.dispatchLocked(&w, r)
	if err != nil {
		resp = nil // not a typed nil inside the interface
	}
	if w.sub > 0 {
		s.rev.Store(w.rev)
	}
	s.ci.Store(idx)
	s.dirty = true
	s.mu.Unlock()
	if s.pending >= s.cfg.BatchLimit {
		if cerr := s.commitLocked(); cerr != nil && err == nil {
			err = cerr
		}
	}
	failed := s.Err() != nil
	s.txMu.Unlock()
	if failed {
		// The revision is in memory only: no watcher may see it.
		return nil, s.Err()
	}
	if len(w.evs) > 0 && s.notify != nil {
		s.notify(w.rev, w.evs)
	}
	return resp, err
}

// Skip records that the committed raft entry at index idx, which changes
// nothing in the key space (an empty entry, a membership change), is
// applied: the consistent index follows every entry, so that it reaches
// every index the log may take a snapshot at. It returns
// ErrAlreadyApplied for an index at or below ConsistentIndex.
func (s *Store) Skip(idx uint64) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if err := s.Err(); err != nil {
		return err
	}
	switch {
	case s.closed:
		return ErrClosed
	case idx <= s.ci.Load():
		return fmt.Errorf("%w: index %d <= %d", ErrAlreadyApplied, idx, s.ci.Load())
	}
	s.ci.Store(idx)
	s.dirty = true
	return nil
}

func (s *Store) dispatchLocked(w *writer, r *etcdserverpb.InternalRaftRequest) (proto.Message, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil request", ErrUnsupported)
	}
	if err := s.checkAuthLocked(r); err != nil {
		return nil, err
	}
	if s.corruptLocked() && changesData(r) {
		return nil, fmt.Errorf("raft request %d: %w", r.ID, ErrCorruptAlarm)
	}
	switch {
	case isAuthRequest(r):
		return s.authLocked(r)
	case r.Alarm != nil:
		return s.alarmLocked(r.Alarm)
	case r.Put != nil:
		if err := s.checkPutLocked(r.Put, w.viewRev()); err != nil {
			return nil, err
		}
		if err := s.checkQuotaLocked(putCost(r.Put)); err != nil {
			return nil, err
		}
		return s.putLocked(w, r.Put)
	case r.DeleteRange != nil:
		return s.deleteRangeLocked(w, r.DeleteRange)
	case r.Txn != nil:
		return s.txnLocked(w, r.Txn)
	case r.Compaction != nil:
		return s.compactLocked(r.Compaction)
	case r.LeaseGrant != nil:
		return s.leaseGrantLocked(r.LeaseGrant)
	case r.LeaseRevoke != nil:
		return s.leaseRevokeLocked(w, r.LeaseRevoke)
	case r.ClusterMemberAttrSet != nil:
		return s.setMemberLocked(r.ClusterMemberAttrSet)
	}
	return nil, fmt.Errorf("%w: raft request %d", ErrUnsupported, r.ID)
}

func header(rev int64) *etcdserverpb.ResponseHeader {
	return &etcdserverpb.ResponseHeader{Revision: rev}
}

// putCost estimates the bytes a put adds: the revision key and the encoded
// value with its revisions, version and lease.
func putCost(p *etcdserverpb.PutRequest) int64 {
	return int64(revKeyLen + len(p.Key) + len(p.Value) + 48)
}

// checkQuotaLocked refuses a write that would grow the data past the
// quota. While a compaction is deleting, dataBytes still counts the records
// it has yet to delete, which differ from member to member; a write that
// fits even so fits on every member, and one that does not waits for the
// deletions, done here, so that every member decides on the same figure.
// Caller holds txMu and mu.
func (s *Store) checkQuotaLocked(cost int64) error {
	if cost <= 0 || s.dataBytes+cost <= s.cfg.QuotaBytes {
		return nil
	}
	if len(s.drops) > 0 {
		freed, err := s.deleteDropsLocked(len(s.drops))
		s.dataBytes -= freed
		if err != nil {
			return err
		}
	}
	if s.dataBytes+cost > s.cfg.QuotaBytes {
		return fmt.Errorf("%w: %d + %d bytes > quota %d", ErrNoSpace, s.dataBytes, cost, s.cfg.QuotaBytes)
	}
	return nil
}

// checkPutLocked does etcd's validation of a put before anything is
// written: argument checks of the API layer, then the lease and (for the
// ignore flags) the existing key.
func (s *Store) checkPutLocked(p *etcdserverpb.PutRequest, view int64) error {
	switch {
	case len(p.Key) == 0:
		return ErrEmptyKey
	case p.IgnoreValue && len(p.Value) != 0:
		return fmt.Errorf("put %q: %w", p.Key, ErrValueProvided)
	case p.IgnoreLease && p.Lease != 0:
		return fmt.Errorf("put %q: %w", p.Key, ErrLeaseProvided)
	}
	if p.Lease != 0 && s.leases[p.Lease] == nil {
		return fmt.Errorf("put %q: %w: %d", p.Key, ErrLeaseNotFound, p.Lease)
	}
	if p.IgnoreValue || p.IgnoreLease {
		ki := s.index.get(p.Key)
		if ki == nil {
			return fmt.Errorf("put %q: %w", p.Key, ErrKeyNotFound)
		}
		if _, ok := ki.at(view); !ok {
			return fmt.Errorf("put %q: %w", p.Key, ErrKeyNotFound)
		}
	}
	return nil
}

// liveKVLocked reads ki's value at rev from the batch transaction, which
// holds committed and uncommitted writes alike.
func (s *Store) liveKVLocked(ki *keyIndex, rev int64) (*mvccpb.KeyValue, error) {
	r, ok := ki.at(rev)
	if !ok {
		return nil, nil
	}
	var key [revKeyLen + 1]byte
	v := s.keyB.Get(putRevKey(key[:], r, false))
	if v == nil {
		return nil, fmt.Errorf("%w: revision %d.%d of %q missing", ErrCorrupt, r.main, r.sub, ki.key)
	}
	kv := new(mvccpb.KeyValue)
	if err := proto.Unmarshal(v, kv); err != nil {
		return nil, fmt.Errorf("%w: revision %d.%d: %v", ErrCorrupt, r.main, r.sub, err)
	}
	return kv, nil
}

// putLocked applies a validated put.
func (s *Store) putLocked(w *writer, p *etcdserverpb.PutRequest) (*etcdserverpb.PutResponse, error) {
	resp := &etcdserverpb.PutResponse{}
	ki := s.index.get(p.Key)
	val, leaseID := p.Value, p.Lease
	if ki != nil && (p.PrevKv || p.IgnoreValue || p.IgnoreLease) {
		prev, err := s.liveKVLocked(ki, w.viewRev())
		if err != nil {
			return nil, err
		}
		if prev != nil {
			if p.IgnoreValue {
				val = prev.Value
			}
			if p.IgnoreLease {
				leaseID = prev.Lease
			}
			if p.PrevKv {
				resp.PrevKv = prev
			}
		}
	}
	if ki == nil {
		ki = s.index.create(p.Key)
	}
	r := revision{main: w.rev, sub: w.sub}
	kv := &mvccpb.KeyValue{Key: ki.keyBytes(), ModRevision: w.rev, Value: val, Lease: leaseID}
	if g := ki.latest(); len(g.revs) == 0 {
		kv.CreateRevision, kv.Version = w.rev, 1
	} else {
		kv.CreateRevision, kv.Version = g.created, g.ver+1
	}
	if err := s.writeLocked(r, false, kv); err != nil {
		return nil, err
	}
	ki.put(r)
	s.attachLocked(ki, leaseID)
	w.sub++
	w.evs = append(w.evs, &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: kv})
	resp.Header = header(w.rev)
	return resp, nil
}

// writeLocked encodes kv once into the arena, puts it in the batch and
// the uncommitted buffer.
func (s *Store) writeLocked(r revision, tomb bool, kv *mvccpb.KeyValue) error {
	n := proto.Size(kv)
	v, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(s.arena.alloc(n)[:0], kv)
	if err != nil {
		return fmt.Errorf("%w: encode %q: %v", ErrCorrupt, kv.Key, err)
	}
	klen := revKeyLen
	if tomb {
		klen++
	}
	k := putRevKey(s.arena.alloc(klen), r, tomb)
	if err := s.keyB.Put(k, v); err != nil {
		return s.fail(fmt.Errorf("%w: put %d.%d: %w", ErrBackend, r.main, r.sub, err))
	}
	s.buf = append(s.buf, bufEntry{rev: r, tomb: tomb, val: v})
	s.dataBytes += int64(len(k) + len(v))
	s.pending++
	return nil
}

// deleteKeyLocked writes a tombstone for the live key ki. The record is
// {Key} alone, as etcd's: the revision key says when it was
// deleted, and readers set ModRevision from it. Keeping etcd's bytes keeps
// HashKV equal to etcd's for the same history.
func (s *Store) deleteKeyLocked(w *writer, ki *keyIndex) error {
	r := revision{main: w.rev, sub: w.sub}
	if err := s.writeLocked(r, true, &mvccpb.KeyValue{Key: ki.keyBytes()}); err != nil {
		return err
	}
	// Detached first: the tombstone opens a new life, which has no lease.
	s.attachLocked(ki, 0)
	ki.tombstone(r)
	w.sub++
	w.evs = append(w.evs, &mvccpb.Event{Type: mvccpb.Event_DELETE, Kv: &mvccpb.KeyValue{Key: ki.keyBytes(), ModRevision: w.rev}})
	return nil
}

func (s *Store) deleteRangeLocked(w *writer, d *etcdserverpb.DeleteRangeRequest) (*etcdserverpb.DeleteRangeResponse, error) {
	view := w.viewRev()
	var victims []*keyIndex
	s.scanLocked(d.Key, d.RangeEnd, view, func(ki *keyIndex, _ revision) bool {
		victims = append(victims, ki)
		return true
	})
	resp := &etcdserverpb.DeleteRangeResponse{Deleted: int64(len(victims))}
	for _, ki := range victims {
		if d.PrevKv {
			prev, err := s.liveKVLocked(ki, view)
			if err != nil {
				return nil, err
			}
			resp.PrevKvs = append(resp.PrevKvs, prev)
		}
		if err := s.deleteKeyLocked(w, ki); err != nil {
			return nil, err
		}
	}
	resp.Header = header(w.viewRev())
	return resp, nil
}

func (s *Store) leaseGrantLocked(g *etcdserverpb.LeaseGrantRequest) (*etcdserverpb.LeaseGrantResponse, error) {
	if g.ID == 0 {
		return nil, ErrLeaseID
	}
	if s.leases[g.ID] != nil {
		return nil, fmt.Errorf("lease %d: %w", g.ID, ErrLeaseExist)
	}
	k, v := encodeLease(g.ID, g.TTL)
	if err := s.checkQuotaLocked(int64(len(k) + len(v))); err != nil {
		return nil, err
	}
	if err := s.leaseB.Put(k, v); err != nil {
		return nil, s.fail(fmt.Errorf("%w: lease grant %d: %w", ErrBackend, g.ID, err))
	}
	s.dataBytes += int64(len(k) + len(v))
	s.pending++
	s.leases[g.ID] = &lease{id: g.ID, ttl: g.TTL, keys: make(map[string]struct{})}
	return &etcdserverpb.LeaseGrantResponse{Header: header(s.rev.Load()), ID: g.ID, TTL: g.TTL}, nil
}

// leaseRevokeLocked deletes every key attached to the lease, in key order,
// at one revision, and then the lease.
func (s *Store) leaseRevokeLocked(w *writer, rv *etcdserverpb.LeaseRevokeRequest) (*etcdserverpb.LeaseRevokeResponse, error) {
	l := s.leases[rv.ID]
	if l == nil {
		return nil, fmt.Errorf("lease %d: %w", rv.ID, ErrLeaseNotFound)
	}
	for _, k := range l.info().Keys {
		if ki := s.index.get(k); ki != nil && ki.live() {
			if err := s.deleteKeyLocked(w, ki); err != nil {
				return nil, err
			}
		}
	}
	k, v := encodeLease(l.id, l.ttl)
	if err := s.leaseB.Delete(k); err != nil {
		return nil, s.fail(fmt.Errorf("%w: lease revoke %d: %w", ErrBackend, rv.ID, err))
	}
	s.dataBytes -= int64(len(k) + len(v))
	s.pending++
	delete(s.leases, rv.ID)
	return &etcdserverpb.LeaseRevokeResponse{Header: header(w.viewRev())}, nil
}
