package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// OS is the real file system.
type OS struct{}

var (
	_ FS         = OS{}
	_ DataFinder = osFile{}
)

// Create implements FS.
func (OS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Open implements FS.
func (OS) Open(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (OS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll implements FS.
func (OS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// List implements FS.
func (OS) List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (OS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

// SyncDir implements FS: fsync on the directory makes its entries durable.
func (OS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	// Some file systems refuse fsync on a directory (EINVAL); they make
	// directory entries durable without it, so that is not a failure.
	if serr != nil && !errors.Is(serr, syscall.EINVAL) {
		return &os.PathError{Op: "syncdir", Path: dir, Err: serr}
	}
	return cerr
}

type osFile struct{ *os.File }

// Sync is fdatasync: a log segment is preallocated, so its size does not
// change on append and the inode's timestamps are not worth a second write.
func (f osFile) Sync() error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.File.Name(), Err: err}
	}
	return nil
}

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Preallocate uses fallocate(2); file systems without it (some network and
// FUSE ones) get the file extended with ftruncate instead, which reserves
// no blocks but keeps the size stable.
func (f osFile) Preallocate(size int64) error {
	cur, err := f.Size()
	if err != nil {
		return err
	}
	if cur >= size {
		return nil
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		return f.Truncate(size)
	}
	return &os.PathError{Op: "fallocate", Path: f.File.Name(), Err: err}
}

// DataEnd implements DataFinder with lseek(2)'s SEEK_DATA and SEEK_HOLE:
// it walks the file's data ranges and returns where the last one ends. A
// range fallocate reserved but nothing was written to is a hole to them
// (ext4 and XFS report an unwritten extent as a hole unless the page cache
// holds data for it), so a preallocated segment costs a few calls, not a
// read of its zeros. A file system without SEEK_DATA reports the whole file
// as data, or refuses with EINVAL; either way DataEnd returns the size. The
// file offset, which Write uses, is restored.
func (f osFile) DataEnd() (int64, error) {
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	fd := int(f.Fd())
	pos, err := unix.Seek(fd, 0, io.SeekCurrent)
	if err != nil {
		return 0, &os.PathError{Op: "lseek", Path: f.File.Name(), Err: err}
	}
	end, err := dataEnd(fd, size)
	if _, serr := unix.Seek(fd, pos, io.SeekStart); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return 0, &os.PathError{Op: "lseek", Path: f.File.Name(), Err: err}
	}
	return end, nil
}

// dataEnd is DataEnd on a file descriptor whose offset it may move.
func dataEnd(fd int, size int64) (int64, error) {
	var end int64
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			return end, nil // no data at or after off
		case errors.Is(err, unix.EINVAL):
			return size, nil // the file system cannot tell
		case err != nil:
			return 0, err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return 0, err
		}
		end, off = hole, hole
	}
	return min(end, size), nil
}
