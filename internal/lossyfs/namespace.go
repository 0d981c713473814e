package lossyfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// nsKind is the kind of a namespace operation.
type nsKind int

const (
	opCreate nsKind = iota // a file or directory was created at path
	opRemove               // the entry at path was removed; it waits in trash
	opRename               // path was renamed to to; a replaced entry waits in trash
)

// nsOp is a namespace operation not yet durable.
type nsOp struct {
	kind nsKind
	// path and to are relative to the backing root.
	path, to string
	// trash is the backing path where a removed or replaced entry waits
	// until the operation is durable, or "".
	trash string
	// dirs are the directories (relative) whose fsync the operation still
	// waits for.
	dirs map[string]bool
}

// journal keeps the namespace operations of NamespaceDirSync until their
// directories are synced, so that a power cut can undo them, newest
// first. A nil journal is NamespaceImmediate: operations just run.
//
// Operations are named by path at the time they ran. A directory renamed
// while operations inside it wait is undone by its old paths, which then
// miss: the model is exact for programs that do not rename directories
// with unsynced changes in them.
type journal struct {
	mu      sync.Mutex
	root    string // the backing directory
	trash   string // root/trashName
	seq     int
	pending []*nsOp
}

func parent(rel string) string { return filepath.Dir(rel) }

func (j *journal) abs(rel string) string { return filepath.Join(j.root, rel) }

// record runs do, which changes the namespace as op says, and records op
// to be undone unless do fails (errNotRecorded: succeeds without a change).
func (j *journal) record(op nsOp, do func() error) error {
	if j == nil {
		return do()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := do(); err != nil {
		return err
	}
	op.dirs = map[string]bool{parent(op.path): true}
	j.pending = append(j.pending, &op)
	return nil
}

// moveToTrashLocked moves the backing entry rel into the trash and returns
// where it went.
func (j *journal) moveToTrashLocked(rel string) (string, error) {
	if err := os.Mkdir(j.trash, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	j.seq++
	t := filepath.Join(j.trash, strconv.Itoa(j.seq))
	if err := os.Rename(j.abs(rel), t); err != nil {
		return "", unwrapPath(err)
	}
	return t, nil
}

// remove removes the entry rel: with unlink under NamespaceImmediate,
// into the trash under NamespaceDirSync.
func (j *journal) remove(rel string, unlink func() error) error {
	if j == nil {
		return unlink()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	t, err := j.moveToTrashLocked(rel)
	if err != nil {
		return err
	}
	j.pending = append(j.pending, &nsOp{kind: opRemove, path: rel, trash: t, dirs: map[string]bool{parent(rel): true}})
	return nil
}

// rename renames from to to with do; under NamespaceDirSync an entry it
// replaces is moved into the trash first, after the checks rename(2)
// would make.
func (j *journal) rename(from, to string, flags uint32, do func() error) error {
	if j == nil {
		return do()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var src, dst syscall.Stat_t
	if err := syscall.Lstat(j.abs(from), &src); err != nil {
		return err
	}
	t := ""
	if err := syscall.Lstat(j.abs(to), &dst); err == nil && dst.Ino != src.Ino && flags&unix.RENAME_NOREPLACE == 0 {
		srcDir, dstDir := src.Mode&syscall.S_IFMT == syscall.S_IFDIR, dst.Mode&syscall.S_IFMT == syscall.S_IFDIR
		switch {
		case dstDir && !srcDir:
			return syscall.EISDIR
		case !dstDir && srcDir:
			return syscall.ENOTDIR
		case dstDir:
			ents, err := os.ReadDir(j.abs(to))
			if err != nil {
				return unwrapPath(err)
			}
			if len(ents) > 0 {
				return syscall.ENOTEMPTY
			}
		}
		if t, err = j.moveToTrashLocked(to); err != nil {
			return err
		}
	}
	if err := do(); err != nil {
		if t != "" {
			// Put the target back: the rename did not happen.
			if rerr := os.Rename(t, j.abs(to)); rerr != nil {
				return fmt.Errorf("rename %s to %s: %w; restoring %s: %w", from, to, err, to, rerr)
			}
		}
		return err
	}
	j.pending = append(j.pending, &nsOp{kind: opRename, path: from, to: to, trash: t,
		dirs: map[string]bool{parent(from): true, parent(to): true}})
	return nil
}

// synced makes the operations on directory dir durable; an operation that
// waited for no other directory leaves the journal, and the entry it
// removed leaves the trash.
func (j *journal) synced(dir string) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	kept := j.pending[:0]
	for _, op := range j.pending {
		delete(op.dirs, dir)
		if len(op.dirs) > 0 {
			kept = append(kept, op)
			continue
		}
		if op.trash != "" {
			errs = append(errs, os.RemoveAll(op.trash))
		}
	}
	clear(j.pending[len(kept):])
	j.pending = kept
	return errors.Join(errs...)
}

// undo reverts the operations not yet durable, newest first, and empties
// the trash. It returns how many it reverted.
func (j *journal) undo() (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	exists := func(p string) bool {
		_, err := os.Lstat(p)
		return err == nil
	}
	for i := len(j.pending) - 1; i >= 0; i-- {
		op := j.pending[i]
		switch op.kind {
		case opCreate:
			errs = append(errs, os.RemoveAll(j.abs(op.path)))
		case opRemove:
			// The name came back only if a later durable operation took
			// it again; then the removed entry stays removed.
			if !exists(j.abs(op.path)) {
				errs = append(errs, os.Rename(op.trash, j.abs(op.path)))
			}
		case opRename:
			if exists(j.abs(op.to)) && !exists(j.abs(op.path)) {
				errs = append(errs, os.Rename(j.abs(op.to), j.abs(op.path)))
			}
			if op.trash != "" && !exists(j.abs(op.to)) {
				errs = append(errs, os.Rename(op.trash, j.abs(op.to)))
			}
		}
	}
	n := len(j.pending)
	j.pending = nil
	if err := os.RemoveAll(j.trash); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
