package mvcc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// defragCommitEvery is how many records the copy puts in one transaction
// of the new file, as etcd's defragmentation does, so that the copy of a
// large database does not hold all of it in one transaction's memory.
const defragCommitEvery = 10000

// Defragment rewrites the database compactly, as etcd's
// Maintenance.Defragment does: the batch is committed, every bucket is
// copied in key order into a new file beside Path (its pages filled as a
// sequential writer fills them), the new file is synced and renamed over
// Path, and the store goes on with it. The pages that compactions and
// deletions freed, which bbolt only reuses, are given back to the file
// system. Apply and readers wait while it runs; a failure before the
// rename leaves the store on its old file, one after it fails the store
// (ErrBackend).
func (s *Store) Defragment() error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.commitLocked(); err != nil {
		return fmt.Errorf("mvcc: defragment: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := s.cfg.Path + ".defrag"
	if err := copyDB(s.db, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: defragment: %w", err)
	}
	// From here the old file goes away: whatever fails leaves no file
	// the store can go on with in this process.
	if s.tx != nil {
		_ = s.tx.Rollback() // the empty batch the commit began
		s.tx = nil
	}
	if err := s.db.Close(); err != nil {
		return s.fail(fmt.Errorf("%w: defragment: close: %w", ErrBackend, err))
	}
	if err := os.Rename(tmp, s.cfg.Path); err != nil {
		return s.fail(fmt.Errorf("%w: defragment: rename: %w", ErrBackend, err))
	}
	if err := (vfs.OS{}).SyncDir(filepath.Dir(s.cfg.Path)); err != nil {
		return s.fail(fmt.Errorf("%w: defragment: %w", ErrBackend, err))
	}
	db, err := openDB(s.cfg.Path)
	if err != nil {
		return s.fail(fmt.Errorf("%w: defragment: %w", ErrBackend, err))
	}
	s.db = db
	return s.beginBatchLocked()
}

// copyDB copies every bucket of src into a new bbolt file at path and
// syncs it.
func copyDB(src *bbolt.DB, path string) (err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err // a copy a crash left behind
	}
	// Synced once at the end rather than at each of its commits.
	dst, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}()
	rtx, err := src.Begin(false)
	if err != nil {
		return err
	}
	defer func() { _ = rtx.Rollback() }()
	wtx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if wtx != nil {
			_ = wtx.Rollback()
		}
	}()
	n := 0
	err = rtx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		nb, err := wtx.CreateBucket(name)
		if err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
		// Keys arrive in order: fill pages as the store's key bucket
		// fills them.
		nb.FillPercent = 0.9
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("%w: nested bucket %q in %q", ErrCorrupt, k, name)
			}
			if err := nb.Put(k, v); err != nil {
				return err
			}
			if n++; n%defragCommitEvery != 0 {
				return nil
			}
			if err := wtx.Commit(); err != nil {
				return err
			}
			if wtx, err = dst.Begin(true); err != nil {
				return err
			}
			nb = wtx.Bucket(name)
			nb.FillPercent = 0.9
			return nil
		})
	})
	if err != nil {
		return err
	}
	err = wtx.Commit()
	wtx = nil
	if err != nil {
		return err
	}
	return dst.Sync()
}
