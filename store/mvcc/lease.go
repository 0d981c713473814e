package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
)

// LeaseInfo is the durable state of one lease. Expiry is the caller's job:
// the leader times leases and proposes LeaseRevoke.
type LeaseInfo struct {
	ID   int64
	TTL  int64
	Keys [][]byte // attached keys, in key order
}

type lease struct {
	id, ttl int64
	keys    map[string]struct{}
}

func (l *lease) info() LeaseInfo {
	li := LeaseInfo{ID: l.id, TTL: l.ttl, Keys: make([][]byte, 0, len(l.keys))}
	for k := range l.keys {
		li.Keys = append(li.Keys, []byte(k))
	}
	sort.Slice(li.Keys, func(i, j int) bool { return bytes.Compare(li.Keys[i], li.Keys[j]) < 0 })
	return li
}

// Lease record in the lease bucket: key = ID as 8 big-endian bytes,
// value = TTL as 8 big-endian bytes.
func encodeLease(id, ttl int64) (k, v []byte) {
	return binary.BigEndian.AppendUint64(nil, uint64(id)), binary.BigEndian.AppendUint64(nil, uint64(ttl))
}

func decodeLease(k, v []byte) (*lease, error) {
	id, ok1 := bytesU64(k)
	ttl, ok2 := bytesU64(v)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: lease record %x=%x", ErrCorrupt, k, v)
	}
	return &lease{id: int64(id), ttl: int64(ttl), keys: make(map[string]struct{})}, nil
}

// Leases returns every lease, in ID order.
func (s *Store) Leases() []LeaseInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]LeaseInfo, 0, len(s.leases))
	for _, l := range s.leases {
		out = append(out, l.info())
	}
	slices.SortFunc(out, func(a, b LeaseInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Lease returns one lease.
func (s *Store) Lease(id int64) (LeaseInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.leases[id]
	if l == nil {
		return LeaseInfo{}, false
	}
	return l.info(), true
}

// attachLocked moves ki's live value to lease id (0 = none).
func (s *Store) attachLocked(ki *keyIndex, id int64) {
	cur := ki.leaseID()
	if cur == id {
		return
	}
	if old := s.leases[cur]; old != nil {
		delete(old.keys, ki.key)
	}
	ki.setLease(id)
	if l := s.leases[id]; l != nil {
		l.keys[ki.key] = struct{}{}
	}
}
