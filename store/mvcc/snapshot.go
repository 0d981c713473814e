package mvcc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Snapshot commits the batch and writes a consistent copy of the whole
// database to w: the data, leases and consistent index as of that commit.
func (s *Store) Snapshot(w io.Writer) (int64, error) {
	s.txMu.Lock()
	if err := s.commitLocked(); err != nil {
		s.txMu.Unlock()
		return 0, err
	}
	tx, err := s.db.Begin(false)
	s.txMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("mvcc: snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("mvcc: snapshot: %w", err)
	}
	return n, nil
}

// Restore replaces the database with a snapshot written by Snapshot that
// comes with a raft snapshot at index: it is written to a temporary file
// beside Path, synced and checked (checkSnapshot), renamed over Path, and
// the indexes are rebuilt from it. Uncommitted writes are discarded: the
// snapshot supersedes them. A snapshot that fails its check leaves the
// store as it was.
func (s *Store) Restore(r io.Reader, index uint64) error {
	if err := s.Err(); err != nil {
		return err
	}
	tmp := s.cfg.Path + ".restore"
	if err := writeSynced(tmp, r); err != nil {
		return err
	}
	if err := checkSnapshot(tmp, index); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: restore: %w", err)
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.closed {
		_ = os.Remove(tmp)
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil {
		_ = s.tx.Rollback()
		s.tx = nil
	}
	if err := s.db.Close(); err != nil {
		return s.fail(fmt.Errorf("%w: restore: close: %w", ErrBackend, err))
	}
	if err := os.Rename(tmp, s.cfg.Path); err != nil {
		return s.fail(fmt.Errorf("%w: restore: rename: %w", ErrBackend, err))
	}
	if err := (vfs.OS{}).SyncDir(filepath.Dir(s.cfg.Path)); err != nil {
		return s.fail(fmt.Errorf("%w: restore: %w", ErrBackend, err))
	}
	db, err := openDB(s.cfg.Path)
	if err != nil {
		return s.fail(fmt.Errorf("%w: restore: %w", ErrBackend, err))
	}
	if err := s.loadLocked(db); err != nil {
		return s.fail(fmt.Errorf("%w: restore: %w", ErrBackend, err))
	}
	return nil
}

func writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("mvcc: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("mvcc: restore: write %s: %w", path, err)
	}
	return nil
}

// maxCheckErrors bounds how many of bbolt's consistency errors a failed
// check names.
const maxCheckErrors = 3

// checkSnapshot checks a database file before it may replace a member's
// own: it must open as bbolt and be as long as its pages say; every
// bucket must read back whole, keys in
// order, each found again by a seek (so branch pages agree with their
// leaves); it must hold this package's buckets with records that decode;
// it must be at raft index index or later (its consistent index), since a
// database behind the raft snapshot it comes with would miss the entries
// between them, which the log no longer holds; and bbolt's own
// consistency check (pages reachable once, free pages not in use) must
// pass. Errors wrap ErrCorrupt and name the file.
//
// The order matters: bbolt rebuilds the free list, which our files do not
// keep, by walking the tree, and panics, in a goroutine of its own, on a
// tree it finds broken. The walk before it reads the same tree where a
// broken page is an error this function can return.
func checkSnapshot(path string, index uint64) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	defer func() { _ = db.Close() }()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	err = guardedView(db, func(tx *bbolt.Tx) error {
		if fi.Size() < tx.Size() {
			return fmt.Errorf("the file has %d bytes, its pages reach %d: it was cut short", fi.Size(), tx.Size())
		}
		if err := checkTree(tx); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketKey, bucketMeta, bucketLease} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("no %s bucket", b)
			}
		}
		ci, err := consistentIndexOf(tx)
		if err != nil {
			return err
		}
		if ci < index {
			return fmt.Errorf("the database is at raft index %d (its consistent index), below the snapshot's index %d", ci, index)
		}
		return checkRecords(tx)
	})
	if err == nil {
		err = db.View(checkPages)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return nil
}

// guardedView runs fn in a read transaction and turns a panic or a memory
// fault on a broken page into an error.
func guardedView(db *bbolt.DB, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading it failed: %v", r)
		}
	}()
	return db.View(fn)
}

// checkTree reads every top-level bucket back: keys in strictly increasing
// order, and each found again by a seek from the root.
func checkTree(tx *bbolt.Tx) error {
	return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		var prev []byte
		walk, seek := b.Cursor(), b.Cursor()
		for k, _ := walk.First(); k != nil; k, _ = walk.Next() {
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				return fmt.Errorf("bucket %s: key %x comes after %x", name, k, prev)
			}
			if got, _ := seek.Seek(k); !bytes.Equal(got, k) {
				return fmt.Errorf("bucket %s: a seek for key %x finds %x", name, k, got)
			}
			prev = append(prev[:0], k...)
		}
		return nil
	})
}

// checkPages runs bbolt's consistency check and reports the first few
// problems it finds, with their count.
func checkPages(tx *bbolt.Tx) error {
	var errs []error
	n := 0
	for err := range tx.Check() { // drained whole: Check's goroutine ends when it is
		if len(errs) < maxCheckErrors {
			errs = append(errs, err)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("bbolt check found %d problems, first %v", n, errs)
}

func consistentIndexOf(tx *bbolt.Tx) (uint64, error) {
	v := tx.Bucket(bucketMeta).Get(metaConsistentIndex)
	if v == nil {
		return 0, nil
	}
	ci, ok := bytesU64(v)
	if !ok {
		return 0, fmt.Errorf("consistent index %x", v)
	}
	return ci, nil
}

// checkRecords decodes every revision key, value and lease, as Open will.
func checkRecords(tx *bbolt.Tx) error {
	err := tx.Bucket(bucketLease).ForEach(func(k, v []byte) error {
		_, err := decodeLease(k, v)
		return err
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketKey).ForEach(func(k, v []byte) error {
		r, _, ok := parseRevKey(k)
		if !ok {
			return fmt.Errorf("revision key %x", k)
		}
		if err := proto.Unmarshal(v, new(mvccpb.KeyValue)); err != nil {
			return fmt.Errorf("record %d.%d: %v", r.main, r.sub, err)
		}
		return nil
	})
}
