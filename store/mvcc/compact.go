package mvcc

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
)

// droppedRev is a record the index no longer refers to after a compaction,
// waiting for its deletion from bbolt.
type droppedRev struct {
	rev  revision
	tomb bool
}

// compactLocked applies a compaction request the way etcd does: the
// compaction revision and the index change here, inside the Apply that
// carries the request, so every read after it sees the compacted key space;
// the records the index dropped are deleted from bbolt later, by the
// compactor goroutine, in batches. Apply pays for a walk of the index, not
// for the deletions or the commits of the pages they dirty.
//
// The compaction revision goes into the batch with the request's consistent
// index, so a crash either replays the request or finds the revision
// persisted; Open then compacts the rebuilt index again and deletes what
// is left (loadLocked).
func (s *Store) compactLocked(c *etcdserverpb.CompactionRequest) (*etcdserverpb.CompactionResponse, error) {
	cur, prev := s.rev.Load(), s.compactRev.Load()
	switch {
	case c.Revision <= prev:
		return nil, fmt.Errorf("compact %d: %w: already compacted at %d", c.Revision, ErrCompacted, prev)
	case c.Revision > cur:
		return nil, fmt.Errorf("compact %d: %w: current %d", c.Revision, ErrFutureRev, cur)
	}
	if err := s.metaB.Put(metaCompactRev, u64Bytes(uint64(c.Revision))); err != nil {
		return nil, s.fail(fmt.Errorf("%w: compact %d: %w", ErrBackend, c.Revision, err))
	}
	s.compactIndexLocked(c.Revision)
	s.compactRev.Store(c.Revision)
	return &etcdserverpb.CompactionResponse{Header: header(cur)}, nil
}

// compactIndexLocked drops from the index every revision not needed to
// read at rev or later, queues their records for deletion and wakes the
// compactor. Caller holds txMu and mu.
func (s *Store) compactIndexLocked(rev int64) {
	before := len(s.drops)
	s.index.compact(rev, func(r revision, tomb bool) {
		s.drops = append(s.drops, droppedRev{rev: r, tomb: tomb})
	})
	if len(s.drops) == 0 || before > 0 {
		return
	}
	s.compactIdle = make(chan struct{})
	select {
	case s.compactc <- struct{}{}:
	default:
	}
}

// deleteDropsLocked deletes up to n of the queued records from the batch
// and returns the bytes they held. The caller subtracts them from
// dataBytes under mu. Caller holds txMu.
func (s *Store) deleteDropsLocked(n int) (freed int64, err error) {
	n = min(n, len(s.drops))
	var key [revKeyLen + 1]byte
	for _, d := range s.drops[:n] {
		k := putRevKey(key[:], d.rev, d.tomb)
		v := s.keyB.Get(k)
		if v == nil {
			continue
		}
		freed += int64(len(k) + len(v))
		if err := s.keyB.Delete(k); err != nil {
			return freed, s.fail(fmt.Errorf("%w: compaction: delete %d.%d: %w", ErrBackend, d.rev.main, d.rev.sub, err))
		}
	}
	s.drops = s.drops[n:]
	s.pending += n
	s.dirty = true
	if len(s.drops) == 0 {
		s.drops = nil // let a large queue's array go
		close(s.compactIdle)
		s.compactIdle = nil
	}
	return freed, nil
}

// finishCompactionLocked deletes every queued record now, in the batch.
// Hash and HashKV call it so that they hash a finished compaction. Caller
// holds txMu, not mu.
func (s *Store) finishCompactionLocked() error {
	if len(s.drops) == 0 {
		return nil
	}
	freed, err := s.deleteDropsLocked(len(s.drops))
	s.mu.Lock()
	s.dataBytes -= freed
	s.mu.Unlock()
	return err
}

// runCompactor deletes queued records in batches of
// Config.CompactionBatchLimit, each committed on its own, with
// Config.CompactionPause between batches, so that a large compaction
// holds the batch transaction (and Apply with it) for one batch at a
// time, as etcd's scheduled compaction does.
func (s *Store) runCompactor() {
	defer close(s.compactDone)
	var pause <-chan time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.compactc:
		case <-pause:
		}
		pause = nil
		left, ok := s.compactBatch()
		if !ok {
			continue
		}
		s.cfg.AfterCompactionBatch()
		if left > 0 {
			pause = time.After(s.cfg.CompactionPause)
		}
	}
}

// compactBatch deletes and commits one batch of queued records. It
// returns how many stay queued, and false when it did nothing.
func (s *Store) compactBatch() (left int, ok bool) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.closed || s.Err() != nil || len(s.drops) == 0 {
		return 0, false
	}
	freed, err := s.deleteDropsLocked(s.cfg.CompactionBatchLimit)
	s.mu.Lock()
	s.dataBytes -= freed
	s.mu.Unlock()
	if err != nil {
		return 0, false
	}
	if err := s.commitLocked(); err != nil {
		return 0, false // kept as the store's failure, which stops the member
	}
	return len(s.drops), true
}

// Compacting reports how many records compactions dropped from the index
// that bbolt still holds.
func (s *Store) Compacting() int {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return len(s.drops)
}

// WaitCompaction returns once bbolt no longer holds any record that the
// compactions applied so far dropped (etcd's physical compaction), or
// when ctx ends, the store closes or fails.
func (s *Store) WaitCompaction(ctx context.Context) error {
	s.txMu.Lock()
	idle := s.compactIdle
	s.txMu.Unlock()
	if idle == nil {
		return s.Err()
	}
	select {
	case <-idle:
		return s.Err()
	case <-ctx.Done():
		return fmt.Errorf("mvcc: wait for compaction: %w", ctx.Err())
	case <-s.stop:
		return ErrClosed
	case <-s.failedc:
		return s.Err()
	}
}
