package mvcc

import (
	"fmt"
	"hash/crc32"

	"go.etcd.io/bbolt"
)

// castagnoli is the CRC-32C table etcd's hashes use.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Hash returns the CRC-32C of every bucket's name and of every key and
// value in it, in bbolt's order, leaving out the consistent index, and the
// revision it covers: etcd's Maintenance.Hash. Members that applied the
// same entries have the same hash, whatever their raft indexes. A
// compaction still deleting is finished and the batch committed first, so
// the hash covers everything applied and nothing compacted.
func (s *Store) Hash() (hash uint32, rev int64, err error) {
	tx, rev, err := s.committedView()
	if err != nil {
		return 0, 0, fmt.Errorf("mvcc: hash: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	h := crc32.New(castagnoli)
	c := tx.Cursor()
	for name, _ := c.First(); name != nil; name, _ = c.Next() {
		b := tx.Bucket(name)
		if b == nil {
			return 0, 0, fmt.Errorf("mvcc: hash: %w: top-level key %q is not a bucket", ErrCorrupt, name)
		}
		h.Write(name)
		meta := string(name) == string(bucketMeta)
		err := b.ForEach(func(k, v []byte) error {
			if meta && string(k) == string(metaConsistentIndex) {
				return nil
			}
			h.Write(k)
			h.Write(v)
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("mvcc: hash: %w", err)
		}
	}
	if err := s.Err(); err != nil {
		return 0, 0, fmt.Errorf("mvcc: hash: %w", err)
	}
	return h.Sum32(), rev, nil
}

// committedView finishes the compactions' deletions, commits the batch and
// begins a read transaction that holds everything applied, with the
// revision it is at.
func (s *Store) committedView() (*bbolt.Tx, int64, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if err := s.finishCompactionLocked(); err != nil {
		return nil, 0, err
	}
	if err := s.commitLocked(); err != nil {
		return nil, 0, err
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, 0, err
	}
	return tx, s.rev.Load(), nil
}

// KVHash is what HashKV computed, and where.
type KVHash struct {
	// Hash is the CRC-32C of the key space up to Revision.
	Hash uint32
	// Revision is the revision hashed; Current the store's revision then.
	Revision, Current int64
	// Compact is the compaction revision then, -1 if the store was never
	// compacted (etcd's convention).
	Compact int64
}

// HashKV hashes the key space up to revision rev (0: the current one) as
// etcd 3.4's HashKV does, so that members can be compared at one revision:
// the CRC-32C of the key bucket's name and of every revision key and
// value at or below rev, leaving out those at or below the compaction
// revision that a compaction at rev would remove. Members that applied
// the same entries and compacted at the same revision have the same hash
// at every revision they both hold. rev at or below the compaction
// revision is ErrCompacted (the result carries Compact), above the
// current one ErrFutureRev (the result carries Current). A compaction
// still deleting is finished and the batch committed first.
func (s *Store) HashKV(rev int64) (KVHash, error) {
	s.txMu.Lock()
	err := s.finishCompactionLocked()
	if err == nil {
		err = s.commitLocked()
	}
	if err != nil {
		s.txMu.Unlock()
		return KVHash{}, fmt.Errorf("mvcc: hashkv: %w", err)
	}
	s.mu.RLock()
	res := KVHash{Current: s.rev.Load(), Compact: s.compactRev.Load()}
	if res.Compact == 0 {
		res.Compact = -1
	}
	switch {
	case rev > 0 && rev <= res.Compact:
		err = fmt.Errorf("mvcc: hashkv at %d: %w: compacted %d", rev, ErrCompacted, res.Compact)
	case rev > res.Current:
		err = fmt.Errorf("mvcc: hashkv at %d: %w: current %d", rev, ErrFutureRev, res.Current)
	}
	var keep map[revision]struct{}
	var tx *bbolt.Tx
	if err == nil {
		if rev <= 0 {
			rev = res.Current
		}
		res.Revision = rev
		keep = s.keepLocked(rev)
		tx, err = s.db.Begin(false)
	}
	s.mu.RUnlock()
	s.txMu.Unlock()
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	h := crc32.New(castagnoli)
	h.Write(bucketKey)
	c := tx.Bucket(bucketKey).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, _, ok := parseRevKey(k)
		if !ok {
			return res, fmt.Errorf("mvcc: hashkv: %w: revision key %x", ErrCorrupt, k)
		}
		if r.main > rev {
			break // keys are in revision order
		}
		if r.main <= res.Compact && len(keep) > 0 {
			if _, ok := keep[r]; !ok {
				continue
			}
		}
		h.Write(k)
		h.Write(v)
	}
	if err := s.Err(); err != nil {
		return res, fmt.Errorf("mvcc: hashkv: %w", err)
	}
	res.Hash = h.Sum32()
	return res, nil
}

// keepLocked is the set of revisions at or below rev that a compaction at
// rev would keep. Caller holds mu.
func (s *Store) keepLocked(rev int64) map[revision]struct{} {
	keep := make(map[revision]struct{})
	s.index.ascend(nil, nil, func(ki *keyIndex) bool {
		ki.keptAt(rev, func(r revision) { keep[r] = struct{}{} })
		return true
	})
	return keep
}
