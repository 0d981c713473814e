package vfs

import (
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// SectorSize is the unit Mem tears writes at in a crash clone.
const SectorSize = 512

// Mem is an in-memory FS that tracks durability; see the package comment for
// its crash model. It is safe for concurrent use. The zero value is not
// usable: call NewMem.
type Mem struct {
	mu      sync.Mutex
	dirs    map[string]bool
	files   map[string]*memFile // the namespace as the running program sees it
	durable map[string]*memFile // the namespace as of the last SyncDir of each dir

	writeBudget int64 // bytes that may still be written; <0 means unlimited
	syncErr     error
	syncHook    func(name string)
}

// memFile is one inode. data is what reads see; synced is what survives a
// crash; pending are the volatile operations since the last Sync, in order.
type memFile struct {
	data    []byte
	synced  []byte
	pending []memOp
}

// memOp is a volatile write (data != nil) or a size change (data == nil).
type memOp struct {
	off  int64
	data []byte
	size int64
}

var _ FS = (*Mem)(nil)

// NewMem returns an empty in-memory file system.
func NewMem() *Mem {
	return &Mem{
		dirs:        map[string]bool{"/": true, ".": true},
		files:       map[string]*memFile{},
		durable:     map[string]*memFile{},
		writeBudget: -1,
	}
}

// FailWritesAfter makes writes fail with ENOSPC once n more bytes have been
// written (a write that crosses the limit writes the bytes that fit, as a
// full disk does). A negative n removes the limit.
func (m *Mem) FailWritesAfter(n int64) {
	m.mu.Lock()
	m.writeBudget = n
	m.mu.Unlock()
}

// FailSyncs makes every Sync and SyncDir return err without making anything
// durable; nil restores normal behaviour.
func (m *Mem) FailSyncs(err error) {
	m.mu.Lock()
	m.syncErr = err
	m.mu.Unlock()
}

// SetSyncHook installs h, called (without Mem's lock held) at the start of
// every file Sync with the file's name: a test can sleep in it to emulate a
// slow disk, or take a CrashClone there. nil removes it.
func (m *Mem) SetSyncHook(h func(name string)) {
	m.mu.Lock()
	m.syncHook = h
	m.mu.Unlock()
}

// SyncLatency returns a hook for SetSyncHook that sleeps d per sync.
func SyncLatency(d time.Duration) func(string) {
	return func(string) { time.Sleep(d) }
}

// CrashClone returns what a power loss now would leave: durable state plus
// a random share of the volatile operations (each kept with probability
// keepUnsynced, and a kept write is torn at a sector boundary a quarter of
// the time). The clone is independent of m, fully durable and has no faults.
func (m *Mem) CrashClone(rng *rand.Rand, keepUnsynced float64) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	for d := range m.dirs {
		c.dirs[d] = true
	}
	names := map[string]bool{}
	for n := range m.files {
		names[n] = true
	}
	for n := range m.durable {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted) // map order would make a seeded rng irreproducible
	for _, n := range sorted {
		cur, dur := m.files[n], m.durable[n]
		f := dur
		if cur != dur && rng.Float64() < keepUnsynced {
			f = cur
		}
		if f == nil {
			continue
		}
		data := append([]byte(nil), f.synced...)
		for _, op := range f.pending {
			if rng.Float64() >= keepUnsynced {
				continue
			}
			if op.data == nil {
				data = resize(data, op.size)
				continue
			}
			w := op.data
			if rng.Intn(4) == 0 {
				// Keep the sectors up to a random boundary inside the write.
				end := op.off + int64(len(w))
				first := (op.off/SectorSize + 1) * SectorSize
				var cut int64
				if first < end {
					cut = first + rng.Int63n((end-first)/SectorSize+1)*SectorSize
					if cut > end {
						cut = end
					}
				} else {
					cut = op.off + rng.Int63n(2)*int64(len(w))
				}
				w = w[:cut-op.off]
			}
			data = writeAt(data, op.off, w)
		}
		nf := &memFile{data: data, synced: append([]byte(nil), data...)}
		c.files[n] = nf
		c.durable[n] = nf
	}
	return c
}

func resize(b []byte, size int64) []byte {
	if int64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func writeAt(b []byte, off int64, p []byte) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], p)
	return b
}

func clean(name string) string { return filepath.Clean(name) }

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// Create implements FS.
func (m *Mem) Create(name string) (File, error) {
	name = clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[filepath.Dir(name)] {
		return nil, notExist("create", name)
	}
	f := &memFile{}
	m.files[name] = f
	return &memHandle{fs: m, f: f, name: name}, nil
}

// Open implements FS.
func (m *Mem) Open(name string) (File, error) {
	name = clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	if !ok {
		return nil, notExist("open", name)
	}
	return &memHandle{fs: m, f: f, name: name}, nil
}

// Remove implements FS.
func (m *Mem) Remove(name string) error {
	name = clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return notExist("remove", name)
	}
	delete(m.files, name)
	return nil
}

// Rename implements FS.
func (m *Mem) Rename(oldname, newname string) error {
	oldname, newname = clean(oldname), clean(newname)
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[oldname]
	if !ok {
		return notExist("rename", oldname)
	}
	delete(m.files, oldname)
	m.files[newname] = f
	return nil
}

// MkdirAll implements FS. Directories are durable at once: backends create
// their directory before they write anything that matters.
func (m *Mem) MkdirAll(dir string, _ os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := clean(dir); !m.dirs[d]; d = filepath.Dir(d) {
		m.dirs[d] = true
	}
	return nil
}

// List implements FS.
func (m *Mem) List(dir string) ([]string, error) {
	dir = clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, notExist("list", dir)
	}
	var names []string
	for n := range m.files {
		if filepath.Dir(n) == dir {
			names = append(names, filepath.Base(n))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (m *Mem) Stat(name string) (os.FileInfo, error) {
	name = clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[name] {
		return memInfo{name: filepath.Base(name), dir: true}, nil
	}
	f, ok := m.files[name]
	if !ok {
		return nil, notExist("stat", name)
	}
	return memInfo{name: filepath.Base(name), size: int64(len(f.data))}, nil
}

// SyncDir implements FS.
func (m *Mem) SyncDir(dir string) error {
	dir = clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.syncErr != nil {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: m.syncErr}
	}
	for n := range m.durable {
		if filepath.Dir(n) == dir {
			delete(m.durable, n)
		}
	}
	for n, f := range m.files {
		if filepath.Dir(n) == dir {
			m.durable[n] = f
		}
	}
	return nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o700
	}
	return 0o600
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type memHandle struct {
	fs     *Mem
	f      *memFile
	name   string
	off    int64
	closed bool
}

func (h *memHandle) Name() string { return h.name }

func (h *memHandle) checkLocked(op string) error {
	if h.closed {
		return &fs.PathError{Op: op, Path: h.name, Err: fs.ErrClosed}
	}
	return nil
}

func (h *memHandle) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	n, err := h.writeAtLocked(p, h.off)
	h.off += int64(n)
	return n, err
}

func (h *memHandle) WriteAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	return h.writeAtLocked(p, off)
}

func (h *memHandle) writeAtLocked(p []byte, off int64) (int, error) {
	if err := h.checkLocked("write"); err != nil {
		return 0, err
	}
	var err error
	if b := h.fs.writeBudget; b >= 0 && int64(len(p)) > b {
		p = p[:b]
		err = &fs.PathError{Op: "write", Path: h.name, Err: syscall.ENOSPC}
	}
	if h.fs.writeBudget >= 0 {
		h.fs.writeBudget -= int64(len(p))
	}
	if len(p) > 0 {
		h.f.data = writeAt(h.f.data, off, p)
		h.f.pending = append(h.f.pending, memOp{off: off, data: append([]byte(nil), p...)})
	}
	return len(p), err
}

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("read"); err != nil {
		return 0, err
	}
	if off >= int64(len(h.f.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) Sync() error {
	h.fs.mu.Lock()
	hook := h.fs.syncHook
	h.fs.mu.Unlock()
	if hook != nil {
		hook(h.name)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("sync"); err != nil {
		return err
	}
	if h.fs.syncErr != nil {
		return &fs.PathError{Op: "fdatasync", Path: h.name, Err: h.fs.syncErr}
	}
	for _, op := range h.f.pending {
		if op.data == nil {
			h.f.synced = resize(h.f.synced, op.size)
		} else {
			h.f.synced = writeAt(h.f.synced, op.off, op.data)
		}
	}
	h.f.pending = nil
	return nil
}

func (h *memHandle) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("truncate"); err != nil {
		return err
	}
	h.f.data = resize(h.f.data, size)
	h.f.pending = append(h.f.pending, memOp{size: size})
	return nil
}

func (h *memHandle) Preallocate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("fallocate"); err != nil {
		return err
	}
	if int64(len(h.f.data)) >= size {
		return nil
	}
	h.f.data = resize(h.f.data, size)
	h.f.pending = append(h.f.pending, memOp{size: size})
	return nil
}

func (h *memHandle) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("stat"); err != nil {
		return 0, err
	}
	return int64(len(h.f.data)), nil
}

func (h *memHandle) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("close"); err != nil {
		return err
	}
	h.closed = true
	return nil
}
