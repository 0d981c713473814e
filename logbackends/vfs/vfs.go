package vfs

import (
	"io"
	"os"
)

// FS is the file system a log backend writes through. Names are paths as the
// os package takes them.
type FS interface {
	// Create creates name (truncating it if it exists) for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries in dir, sorted.
	List(dir string) ([]string, error)
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes creations, removals and renames in dir durable.
	SyncDir(dir string) error
}

// File is an open file.
type File interface {
	io.Writer
	io.WriterAt
	io.ReaderAt
	// Sync makes the file's data (and the metadata needed to read it)
	// durable: fdatasync, not fsync.
	Sync() error
	Truncate(size int64) error
	// Preallocate makes the file at least size bytes long, reserving the
	// space, so later writes inside it do not change the file's size (and
	// so an fdatasync need not write metadata). Added bytes read as zero.
	Preallocate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	Name() string
	Close() error
}

// DataFinder is the optional ability of a File to say where its data ends
// without reading it, so that a reader of a preallocated file can skip the
// zeros after what was written. Decorators of a File forward it.
type DataFinder interface {
	// DataEnd returns an offset from which the file reads as zeros to its
	// end. It may be later than the last byte written (a file system
	// tracks data in blocks, and one that cannot tell returns the size),
	// never earlier.
	DataEnd() (int64, error)
}

// DataEnd returns f's DataEnd, or its size for a File that cannot tell: a
// decorator's DataEnd forwards to it.
func DataEnd(f File) (int64, error) {
	if d, ok := f.(DataFinder); ok {
		return d.DataEnd()
	}
	return f.Size()
}
