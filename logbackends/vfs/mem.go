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
	mu          sync.Mutex
	dirs        map[string]bool     // the directories as the running program sees them
	durableDirs map[string]bool     // those whose name was synced (SyncDir of the parent)
	files       map[string]*memFile // the namespace as the running program sees it
	durable     map[string]*memFile // the namespace as of the last SyncDir of each dir

	writeBudget int64 // bytes that may still be written; <0 means unlimited
	syncErr     error
	syncHook    func(name string)
	misorder    bool // MisorderSyncs
}

// memFile is one inode. data is what reads see; synced is what survives a
// crash; pending are the volatile operations since the last Sync, in order.
// lagging counts the pending operations the last Sync should have made
// durable but did not (MisorderSyncs). data reads as zeros from written on:
// nothing was written there since the file was created or last truncated
// below it.
type memFile struct {
	data    []byte
	synced  []byte
	pending []memOp
	lagging int
	written int64
}

// memOp is a volatile write (data != nil) or a size change (data == nil).
type memOp struct {
	off  int64
	data []byte
	size int64
}

var (
	_ FS         = (*Mem)(nil)
	_ DataFinder = (*memHandle)(nil)
)

// NewMem returns an empty in-memory file system.
func NewMem() *Mem {
	return &Mem{
		dirs:        map[string]bool{"/": true, ".": true},
		durableDirs: map[string]bool{"/": true, ".": true},
		files:       map[string]*memFile{},
		durable:     map[string]*memFile{},
		writeBudget: -1,
	}
}

// FailWritesAfter makes writes fail with ENOSPC once n more bytes have been
// written. The write that crosses the limit writes the whole sectors that
// fit and fails, as a full disk does (space is allocated in blocks, so a
// short write ends at a block boundary of the file); every later write
// fails. A negative n removes the limit.
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

// MisorderSyncs, while on, makes every file Sync return before what it
// covers is durable: it makes durable only what the file's previous Sync
// should have, so each Sync's writes land one Sync late. It is a disk that
// acknowledges an fdatasync early, the fault behind a backend that
// acknowledges before it syncs; crash tests turn it on as a negative
// control, to show that they notice the acknowledged writes it loses.
func (m *Mem) MisorderSyncs(on bool) {
	m.mu.Lock()
	m.misorder = on
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
	return m.CrashCloneWith(rng, keepUnsynced, nil)
}

// CrashCloneWith is CrashClone that first runs image (when not nil) with
// the file system held still: no operation on m starts or completes until
// the clone is taken, so what image copies (a persistent-memory region,
// say) belongs to the same instant as the clone. image must not use m.
func (m *Mem) CrashCloneWith(rng *rand.Rand, keepUnsynced float64, image func()) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	if image != nil {
		image()
	}
	c := NewMem()
	for _, d := range m.crashDirsLocked(rng, keepUnsynced) {
		c.dirs[d], c.durableDirs[d] = true, true
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
		if f == nil || !c.dirs[filepath.Dir(n)] {
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
			data = writeAt(data, op.off, tear(rng, op))
		}
		nf := &memFile{data: data, synced: append([]byte(nil), data...), written: zerosFrom(data)}
		c.files[n] = nf
		c.durable[n] = nf
	}
	return c
}

// crashDirsLocked returns the directories a power loss now would leave:
// each one whose name is durable, or is volatile and kept with probability
// keep, under a parent that is left too.
func (m *Mem) crashDirsLocked(rng *rand.Rand, keep float64) []string {
	sorted := make([]string, 0, len(m.dirs))
	for d := range m.dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted) // a parent sorts before its children
	left := map[string]bool{}
	var out []string
	for _, d := range sorted {
		kept := m.durableDirs[d] || rng.Float64() < keep
		if p := filepath.Dir(d); p != d && !left[p] {
			kept = false
		}
		if kept {
			left[d] = true
			out = append(out, d)
		}
	}
	return out
}

// tear returns the part of a volatile write that a crash leaves: all of
// it, or, a quarter of the time, the sectors up to a random boundary
// inside it.
func tear(rng *rand.Rand, op memOp) []byte {
	w := op.data
	if rng.Intn(4) != 0 {
		return w
	}
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
	return w[:cut-op.off]
}

// zerosFrom returns where the zeros that end b start.
func zerosFrom(b []byte) int64 {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
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

// MkdirAll implements FS. A directory it creates is volatile, as a file's
// creation is, until SyncDir of its parent.
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
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			m.durableDirs[d] = true
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
		// The space left ends at the last sector boundary of the file
		// inside the budget.
		fit := max((off+b)/SectorSize*SectorSize-off, 0)
		p = p[:fit]
		err = &fs.PathError{Op: "write", Path: h.name, Err: syscall.ENOSPC}
		h.fs.writeBudget = 0
	} else if b >= 0 {
		h.fs.writeBudget -= int64(len(p))
	}
	if len(p) > 0 {
		h.f.data = writeAt(h.f.data, off, p)
		h.f.written = max(h.f.written, off+int64(len(p)))
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
	n := len(h.f.pending)
	if h.fs.misorder {
		n = h.f.lagging
	}
	for _, op := range h.f.pending[:n] {
		if op.data == nil {
			h.f.synced = resize(h.f.synced, op.size)
		} else {
			h.f.synced = writeAt(h.f.synced, op.off, op.data)
		}
	}
	h.f.pending = append([]memOp(nil), h.f.pending[n:]...)
	h.f.lagging = len(h.f.pending)
	return nil
}

func (h *memHandle) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("truncate"); err != nil {
		return err
	}
	h.f.data = resize(h.f.data, size)
	h.f.written = min(h.f.written, size)
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

// DataEnd implements DataFinder: the end of the last write, which Mem
// tracks, so a preallocated file is not scanned.
func (h *memHandle) DataEnd() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.checkLocked("lseek"); err != nil {
		return 0, err
	}
	return h.f.written, nil
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
