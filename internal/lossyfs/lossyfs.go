package lossyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Namespace says when creating, removing and renaming files and
// directories becomes durable.
type Namespace int

const (
	// NamespaceImmediate makes every namespace operation durable as soon
	// as it returns, as LazyFS does: only file contents and sizes are
	// volatile.
	NamespaceImmediate Namespace = iota
	// NamespaceDirSync makes a namespace operation durable only once the
	// directories it changed have been fsynced, as POSIX requires of a
	// careful program: a power cut undoes the others.
	NamespaceDirSync
)

// String returns the model's name.
func (n Namespace) String() string {
	switch n {
	case NamespaceImmediate:
		return "immediate"
	case NamespaceDirSync:
		return "dirsync"
	}
	return fmt.Sprintf("Namespace(%d)", int(n))
}

// Options configure a lossy file system.
type Options struct {
	// Namespace is the durability model of namespace operations.
	Namespace Namespace
	// SyncBacking makes a sync through the mount fdatasync the backing
	// file too, so that syncs cost what the backing disk charges. The model
	// does not need it: the backing directory holds what was synced either
	// way, as long as its own machine keeps running.
	SyncBacking bool
	// PassThrough turns the power-loss model off: writes, truncates and
	// allocations go to the backing file at once, nothing is held in
	// memory, and a power cut drops nothing. What remains is a pass-through
	// file system whose syncs can be slowed at run time (SetSyncDelay), for
	// disk stalls of real processes. It needs NamespaceImmediate.
	PassThrough bool
}

// Validate names the first bad field.
func (o Options) Validate() error {
	switch o.Namespace {
	case NamespaceImmediate, NamespaceDirSync:
	default:
		return fmt.Errorf("%w: namespace: %d is neither NamespaceImmediate nor NamespaceDirSync", ErrOptions, int(o.Namespace))
	}
	if o.PassThrough && o.Namespace != NamespaceImmediate {
		return fmt.Errorf("%w: pass-through: namespace %v would be undone by a cut that keeps every write; use NamespaceImmediate", ErrOptions, o.Namespace)
	}
	return nil
}

// Stats count what went through the file system since New.
type Stats struct {
	// BytesWritten is the sum of all writes.
	BytesWritten uint64
	// Syncs counts fsync and fdatasync calls on files; DirSyncs on
	// directories.
	Syncs    uint64
	DirSyncs uint64
	// Cuts counts power cuts; BytesDropped, FilesDropped and
	// NamespaceUndone add up their CutStats.
	Cuts            uint64
	BytesDropped    uint64
	FilesDropped    uint64
	NamespaceUndone uint64
	// SyncsDelayed counts the syncs a sync delay held up and released,
	// SyncDelay the time they spent held, and SyncsHeld the syncs held
	// now.
	SyncsDelayed uint64
	SyncDelay    time.Duration
	SyncsHeld    int64
}

// CutStats say what one power cut dropped.
type CutStats struct {
	// BytesDropped is the sum of the writes not synced before the cut.
	BytesDropped uint64
	// FilesDropped counts files that had volatile changes: writes, or a
	// size changed by truncate or fallocate.
	FilesDropped uint64
	// NamespaceUndone counts namespace operations undone (always 0 under
	// NamespaceImmediate).
	NamespaceUndone uint64
}

// trashName is the directory in the backing root where NamespaceDirSync
// keeps removed and replaced entries until the removal is durable. The
// mount does not show it.
const trashName = ".lossyfs-trash"

// cacheTimeout is how long the kernel may cache names and attributes.
// Every change goes through the mount, so the kernel's caches stay right;
// a power cut is followed by a remount, which empties them.
const cacheTimeout = time.Second

// FS is a pass-through file system over a backing directory that keeps
// every change not yet made durable in memory. See the package comment for
// the model.
type FS struct {
	backing string
	opts    Options

	// mu is held shared by every file system operation and exclusively by
	// a power cut, so a cut falls between operations.
	mu sync.RWMutex
	// off is set by a power cut: every operation fails with EIO until the
	// next Mount.
	off bool

	// filesMu guards files, detached and the handle counts of every file.
	filesMu sync.Mutex
	// files are the regular files opened or resized since the last cut,
	// by backing inode.
	files map[fileKey]*file
	// detached are files unlinked or replaced while open.
	detached map[*file]struct{}

	// ns records namespace operations under NamespaceDirSync; nil under
	// NamespaceImmediate.
	ns *journal

	// delays are the sync delays set by SetSyncDelay.
	delays syncDelays

	mountMu    sync.Mutex
	server     *fuse.Server
	mountpoint string

	bytesWritten, syncs, dirSyncs              atomic.Uint64
	cuts, bytesDropped, filesDropped, nsUndone atomic.Uint64
}

// fileKey names a backing file: its inode number and a generation that
// tells inodes apart when the backing file system reuses the number.
type fileKey struct{ ino, gen uint64 }

// New returns a lossy file system over the directory backing, not yet
// mounted. The backing directory is what a disk would hold: while the file
// system exists nothing else may change it.
func New(backing string, opts Options) (*FS, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("%w: backing directory %q: %w", ErrOptions, backing, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: backing directory: %w", ErrOptions, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: backing directory %s is not a directory", ErrOptions, abs)
	}
	s := &FS{
		backing:  abs,
		opts:     opts,
		files:    map[fileKey]*file{},
		detached: map[*file]struct{}{},
		delays:   newSyncDelays(),
	}
	if opts.Namespace == NamespaceDirSync {
		s.ns = &journal{root: abs, trash: filepath.Join(abs, trashName)}
	}
	return s, nil
}

// Backing returns the backing directory's absolute path.
func (s *FS) Backing() string { return s.backing }

// Mount mounts the file system on the existing directory mountpoint and
// serves it until Unmount. After a power cut it powers the file system on
// again.
func (s *FS) Mount(mountpoint string) error {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	if s.server != nil {
		return fmt.Errorf("%w on %s", ErrMounted, s.mountpoint)
	}
	s.mu.Lock()
	s.off = false
	s.mu.Unlock()
	timeout, negative := cacheTimeout, time.Duration(0)
	server, err := fs.Mount(mountpoint, &node{sys: s}, &fs.Options{
		MountOptions: fuse.MountOptions{
			// As root, mount(2) directly; otherwise through fusermount3.
			DirectMount:   true,
			FsName:        "lossyfs:" + s.backing,
			Name:          "lossyfs",
			MaxWrite:      1 << 20,
			DisableXAttrs: true,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &negative,
		NullPermissions: true,
	})
	if err != nil {
		return fmt.Errorf("lossyfs: mount %s on %s: %w", s.backing, mountpoint, err)
	}
	s.server, s.mountpoint = server, mountpoint
	return nil
}

// Unmount detaches the file system from its mountpoint. What was written
// and not synced stays in memory, to be seen again after the next Mount
// unless a power cut comes first. It fails while files on the mount are
// open.
func (s *FS) Unmount() error {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	if s.server == nil {
		return ErrNotMounted
	}
	if err := s.server.Unmount(); err != nil {
		return fmt.Errorf("lossyfs: unmount %s: %w", s.mountpoint, err)
	}
	s.server, s.mountpoint = nil, ""
	return nil
}

// Mountpoint returns where the file system is mounted, or "" when it is
// not.
func (s *FS) Mountpoint() string {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	return s.mountpoint
}

// PowerCut drops everything that was not made durable and leaves the
// backing directory as a disk would be after losing power: file contents
// and sizes as of their last sync, and under NamespaceDirSync the names
// as of their directories' last sync. From then on every operation on the
// mount fails with EIO; Unmount and Mount again to power on (the remount
// also empties the kernel's caches of the old contents). The processes
// using the mount should be dead before the cut, as they would be.
func (s *FS) PowerCut() (CutStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.off = true
	var cs CutStats
	s.filesMu.Lock()
	drop := func(f *file) {
		dirty, unsynced := f.drop()
		if dirty {
			cs.FilesDropped++
		}
		cs.BytesDropped += uint64(unsynced)
	}
	for _, f := range s.files {
		drop(f)
	}
	for f := range s.detached {
		drop(f)
	}
	s.files, s.detached = map[fileKey]*file{}, map[*file]struct{}{}
	s.filesMu.Unlock()
	var err error
	if s.ns != nil {
		var n int
		n, err = s.ns.undo()
		cs.NamespaceUndone = uint64(n)
	}
	s.cuts.Add(1)
	s.bytesDropped.Add(cs.BytesDropped)
	s.filesDropped.Add(cs.FilesDropped)
	s.nsUndone.Add(cs.NamespaceUndone)
	if err != nil {
		return cs, fmt.Errorf("%w: %w", ErrCut, err)
	}
	return cs, nil
}

// Close unmounts the file system if it is mounted and drops what was not
// made durable, as a power cut does, so that the backing directory is left
// in its durable state.
func (s *FS) Close() error {
	var errs []error
	if s.Mountpoint() != "" {
		errs = append(errs, s.Unmount())
	}
	_, err := s.PowerCut()
	errs = append(errs, err)
	return errors.Join(errs...)
}

// Stats returns the counters so far.
func (s *FS) Stats() Stats {
	return Stats{
		BytesWritten:    s.bytesWritten.Load(),
		Syncs:           s.syncs.Load(),
		DirSyncs:        s.dirSyncs.Load(),
		Cuts:            s.cuts.Load(),
		BytesDropped:    s.bytesDropped.Load(),
		FilesDropped:    s.filesDropped.Load(),
		NamespaceUndone: s.nsUndone.Load(),
		SyncsDelayed:    s.delays.delayed.Load(),
		SyncDelay:       time.Duration(s.delays.total.Load()),
		SyncsHeld:       s.delays.held.Load(),
	}
}

// enter starts an operation: it reports false, and holds nothing, when the
// power is cut. Otherwise leave must follow.
func (s *FS) enter() bool {
	s.mu.RLock()
	if s.off {
		s.mu.RUnlock()
		return false
	}
	return true
}

func (s *FS) leave() { s.mu.RUnlock() }

// openFile returns the file with key at path, opening its backing file if
// it is not known yet, with one more handle counted when handle is set.
func (s *FS) openFile(key fileKey, path string, handle bool) (*file, error) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	f, ok := s.files[key]
	if !ok {
		var err error
		if f, err = openFile(path); err != nil {
			return nil, err
		}
		f.passThrough = s.opts.PassThrough
		s.files[key] = f
	}
	if handle {
		f.handles++
	}
	return f, nil
}

// knownFile returns the file with key if it has been opened since the last
// cut.
func (s *FS) knownFile(key fileKey) *file {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	return s.files[key]
}

// release counts a handle of f closed.
func (s *FS) release(f *file) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	f.handles--
	if f.detached && f.handles == 0 {
		delete(s.detached, f)
		f.backing.Close()
	}
}

// detach forgets the file with key after its last name was removed: it
// lives on, volatile changes and all, while handles to it are open.
func (s *FS) detach(key fileKey) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	f, ok := s.files[key]
	if !ok {
		return
	}
	delete(s.files, key)
	f.detached = true
	if f.handles == 0 {
		f.backing.Close()
		return
	}
	s.detached[f] = struct{}{}
}
