package lossyfs

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// pageSize is the granularity of the volatile overlay, the kernel's page:
// a write dirties whole pages, as it would in the page cache.
const pageSize = 4096

// noCut marks a file whose backing bytes are all visible: no volatile
// truncate has cut them.
const noCut = math.MaxInt64

// file is one regular file as seen through the mount: its backing file,
// which holds exactly what was synced, and the volatile overlay on top of
// it, which holds what was written or resized since.
//
// Invariants, with mu held: bytes of a dirty page at or beyond size are
// zero; backing bytes at or beyond min(cut, durable) are not part of the
// file (a truncate cut them, or they were never there).
type file struct {
	mu sync.Mutex
	// backing is the file in the backing directory, opened for reading and
	// writing. It stays open while the file is known: after an unlink it is
	// the only way to reach the data still held by open handles.
	backing *os.File
	// size is the file's size through the mount, volatile changes included.
	size int64
	// durable is the backing file's size.
	durable int64
	// cut is the lowest size a volatile truncate set since the last sync
	// (noCut when none did): backing bytes from there on read as zeros.
	cut int64
	// pages are the dirty pages, keyed by page index.
	pages map[int64]*[pageSize]byte
	// unsynced counts the bytes written since the last sync: what a power
	// cut now would drop.
	unsynced int64
	// handles counts the open file handles; detached says the file was
	// unlinked (or replaced by a rename). A detached file without handles
	// closes its backing file.
	handles  int
	detached bool
	// passThrough sends writes and size changes to the backing file at
	// once (Options.PassThrough): the overlay stays empty and durable
	// follows size.
	passThrough bool
}

// openFile opens the backing file at path and returns it with an empty
// overlay.
func openFile(path string) (*file, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &file{backing: f, size: fi.Size(), durable: fi.Size(), cut: noCut}, nil
}

// dirtyLocked reports whether the file has changes a power cut would drop.
func (f *file) dirtyLocked() bool {
	return f.size != f.durable || f.cut < f.durable || len(f.pages) > 0
}

// visibleLocked is the end of the backing bytes that are still part of
// the file.
func (f *file) visibleLocked() int64 { return min(f.cut, f.durable) }

// readBackingLocked fills dst with the file's backing bytes at off, zeros
// where the backing file has none or a truncate cut them.
func (f *file) readBackingLocked(dst []byte, off int64) error {
	n := 0
	if vis := f.visibleLocked(); off < vis {
		want := int(min(int64(len(dst)), vis-off))
		var err error
		n, err = f.backing.ReadAt(dst[:want], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	clear(dst[n:])
	return nil
}

// readAt reads into dst at off as the file is now and returns how many
// bytes it read: fewer than len(dst) only at the end of the file.
func (f *file) readAt(dst []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= f.size {
		return 0, nil
	}
	dst = dst[:min(int64(len(dst)), f.size-off)]
	if err := f.readBackingLocked(dst, off); err != nil {
		return 0, err
	}
	if len(f.pages) == 0 {
		return len(dst), nil
	}
	end := off + int64(len(dst))
	for p := off / pageSize; p*pageSize < end; p++ {
		pg, ok := f.pages[p]
		if !ok {
			continue
		}
		start := p * pageSize
		lo, hi := max(start, off), min(start+pageSize, end)
		copy(dst[lo-off:hi-off], pg[lo-start:hi-start])
	}
	return len(dst), nil
}

// pageLocked returns dirty page p, loading it from the backing file first
// if it is clean.
func (f *file) pageLocked(p int64) (*[pageSize]byte, error) {
	if pg, ok := f.pages[p]; ok {
		return pg, nil
	}
	pg := new([pageSize]byte)
	// The visible backing bytes never reach past size (a truncate down
	// lowers cut to the new size; otherwise size only grows from durable),
	// so a loaded page is zero past the end of the file.
	if err := f.readBackingLocked(pg[:], p*pageSize); err != nil {
		return nil, err
	}
	if f.pages == nil {
		f.pages = make(map[int64]*[pageSize]byte)
	}
	f.pages[p] = pg
	return pg, nil
}

// writeAt writes data at off into the overlay, or in pass-through to the
// backing file.
func (f *file) writeAt(data []byte, off int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := off + int64(len(data))
	if f.passThrough {
		if _, err := f.backing.WriteAt(data, off); err != nil {
			return err
		}
		f.size = max(f.size, end)
		f.durable = f.size
		f.unsynced += int64(len(data))
		return nil
	}
	for p := off / pageSize; p*pageSize < end; p++ {
		pg, err := f.pageLocked(p)
		if err != nil {
			return err
		}
		start := p * pageSize
		lo, hi := max(start, off), min(start+pageSize, end)
		copy(pg[lo-start:hi-start], data[lo-off:hi-off])
	}
	f.size = max(f.size, end)
	f.unsynced += int64(len(data))
	return nil
}

// truncate sets the file's size in the overlay (in pass-through, of the
// backing file): bytes past a smaller size are gone, and a larger size
// reads as zeros up to it.
func (f *file) truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.passThrough {
		if err := f.backing.Truncate(size); err != nil {
			return err
		}
		f.size, f.durable = size, size
		return nil
	}
	f.truncateLocked(size)
	return nil
}

func (f *file) truncateLocked(size int64) {
	if size < f.size {
		for p := range f.pages {
			if p*pageSize >= size {
				delete(f.pages, p)
			}
		}
		if pg, ok := f.pages[size/pageSize]; ok {
			clear(pg[size%pageSize:])
		}
		f.cut = min(f.cut, size)
	}
	f.size = size
}

// allocate is fallocate(2) in the overlay: mode 0 extends the size to
// off+length, FALLOC_FL_KEEP_SIZE only reserves blocks and changes nothing
// a reader could see. Other modes (punching or zeroing ranges) are not
// supported. In pass-through both modes go to the backing file.
func (f *file) allocate(off, length int64, mode uint32) error {
	if f.passThrough && (mode == 0 || mode == unix.FALLOC_FL_KEEP_SIZE) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := unix.Fallocate(int(f.backing.Fd()), mode, off, length); err != nil {
			return err
		}
		if end := off + length; mode == 0 && end > f.size {
			f.size, f.durable = end, end
		}
		return nil
	}
	switch mode {
	case 0:
		f.mu.Lock()
		defer f.mu.Unlock()
		if end := off + length; end > f.size {
			f.truncateLocked(end)
		}
		return nil
	case unix.FALLOC_FL_KEEP_SIZE:
		return nil
	default:
		return fmt.Errorf("fallocate mode %#x: %w", mode, unix.EOPNOTSUPP)
	}
}

// sync makes the overlay durable: the backing file gets the cut, the dirty
// pages and the size, in that order, then fdatasync when syncBacking is
// set. It returns the bytes written since the previous sync. If the
// backing file fails, the overlay is kept, so the mount still shows what
// was written.
func (f *file) sync(syncBacking bool) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.passThrough {
		if syncBacking {
			if err := unix.Fdatasync(int(f.backing.Fd())); err != nil {
				return 0, &os.PathError{Op: "fdatasync", Path: f.backing.Name(), Err: err}
			}
		}
		synced := f.unsynced
		f.unsynced = 0
		return synced, nil
	}
	if !f.dirtyLocked() {
		return 0, nil
	}
	bsize := f.durable
	if f.cut < f.durable {
		if err := f.backing.Truncate(f.cut); err != nil {
			return 0, err
		}
		bsize = f.cut
	}
	keys := make([]int64, 0, len(f.pages))
	for p := range f.pages {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		start := p * pageSize
		if start >= f.size {
			continue
		}
		end := min(start+pageSize, f.size)
		if _, err := f.backing.WriteAt(f.pages[p][:end-start], start); err != nil {
			return 0, err
		}
		bsize = max(bsize, end)
	}
	if bsize != f.size {
		if err := f.backing.Truncate(f.size); err != nil {
			return 0, err
		}
	}
	if syncBacking {
		if err := unix.Fdatasync(int(f.backing.Fd())); err != nil {
			return 0, &os.PathError{Op: "fdatasync", Path: f.backing.Name(), Err: err}
		}
	}
	synced := f.unsynced
	f.pages, f.durable, f.cut, f.unsynced = nil, f.size, noCut, 0
	return synced, nil
}

// drop discards the overlay, as a power cut does, and closes the backing
// file. It reports whether there was anything volatile and how many
// written bytes were not synced (in pass-through nothing is volatile).
func (f *file) drop() (dirty bool, unsynced int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dirty, unsynced = f.dirtyLocked(), f.unsynced
	if f.passThrough {
		dirty, unsynced = false, 0
	}
	f.pages, f.size, f.cut, f.unsynced = nil, f.durable, noCut, 0
	f.backing.Close()
	return dirty, unsynced
}

// stat returns the backing file's attributes with the size through the
// mount.
func (f *file) stat() (syscall.Stat_t, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.backing.Fd()), &st); err != nil {
		return st, err
	}
	st.Size = f.size
	return st, nil
}

// currentSize returns the size through the mount.
func (f *file) currentSize() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}
