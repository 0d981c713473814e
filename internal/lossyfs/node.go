package lossyfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a file or directory of the mount. It holds no state of its own:
// the kernel may forget a node while its file still has volatile changes,
// so those live in FS.files, by backing inode.
type node struct {
	fs.Inode
	sys *FS
}

// handle is an open regular file.
type handle struct{ f *file }

var (
	_ fs.NodeStatfser  = (*node)(nil)
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeReaddirer = (*node)(nil)
	_ fs.NodeReader    = (*node)(nil)
	_ fs.NodeWriter    = (*node)(nil)
	_ fs.NodeFsyncer   = (*node)(nil)
	_ fs.NodeAllocater = (*node)(nil)
	_ fs.NodeReleaser  = (*node)(nil)
	_ fs.NodeFlusher   = (*node)(nil)
)

// rel is the node's path relative to the mount's root, "." for the root.
func (n *node) rel() string { return filepath.Clean(n.Path(nil)) }

// child is the relative path of the entry name in this directory.
func (n *node) child(name string) string { return filepath.Join(n.rel(), name) }

// abs is the backing path of a relative path.
func (n *node) abs(rel string) string { return filepath.Join(n.sys.backing, rel) }

// hidden reports whether name is the trash directory in the root.
func (n *node) hidden(name string) bool { return name == trashName && n.IsRoot() }

func (n *node) key() fileKey {
	a := n.StableAttr()
	return fileKey{ino: a.Ino, gen: a.Gen}
}

// errno turns an error into what the kernel is told.
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// newChild makes the inode of the entry at backing path p, filling out.
func (n *node) newChild(ctx context.Context, p string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	st, gen, err := lstat(p)
	if err != nil {
		return nil, errno(err)
	}
	key := fileKey{ino: st.Ino, gen: gen}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		if f := n.sys.knownFile(key); f != nil {
			st.Size = f.currentSize()
		}
	}
	out.Attr.FromStat(&st)
	return n.NewInode(ctx, &node{sys: n.sys}, fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: st.Ino, Gen: gen}), 0
}

// Statfs implements fs.NodeStatfser: the backing file system's.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	var st syscall.Statfs_t
	if err := syscall.Statfs(n.sys.backing, &st); err != nil {
		return errno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

// Lookup implements fs.NodeLookuper.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.sys.enter() {
		return nil, syscall.EIO
	}
	defer n.sys.leave()
	if n.hidden(name) {
		return nil, syscall.ENOENT
	}
	return n.newChild(ctx, n.abs(n.child(name)), out)
}

// Getattr implements fs.NodeGetattrer: the backing file's attributes with
// the size as written.
func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	st, err := n.stat(fh)
	if err != nil {
		return errno(err)
	}
	out.FromStat(&st)
	return 0
}

// stat returns the node's attributes: through its open file when it has
// one (the only way after an unlink), from the backing path otherwise.
func (n *node) stat(fh fs.FileHandle) (syscall.Stat_t, error) {
	f := n.sys.knownFile(n.key())
	if h, ok := fh.(*handle); ok {
		f = h.f
	}
	if f != nil && n.Mode()&syscall.S_IFMT == syscall.S_IFREG {
		return f.stat()
	}
	var st syscall.Stat_t
	err := syscall.Lstat(n.abs(n.rel()), &st)
	return st, err
}

// Setattr implements fs.NodeSetattrer. A size change is volatile; mode,
// owner and times go to the backing file at once.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	p := n.abs(n.rel())
	if size, ok := in.GetSize(); ok {
		f, err := n.file(fh, p)
		if err != nil {
			return errno(err)
		}
		if err := f.truncate(int64(size)); err != nil {
			return errno(err)
		}
	}
	if mode, ok := in.GetMode(); ok {
		if err := syscall.Chmod(p, mode&07777); err != nil {
			return errno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := syscall.Lchown(p, u, g); err != nil {
			return errno(err)
		}
	}
	atime, aok := in.GetATime()
	mtime, mok := in.GetMTime()
	if aok || mok {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return errno(err)
		}
	}
	st, err := n.stat(fh)
	if err != nil {
		return errno(err)
	}
	out.FromStat(&st)
	return 0
}

// file returns the node's file: the open handle's, or the one known by
// its inode, opening the backing file at p if needed.
func (n *node) file(fh fs.FileHandle, p string) (*file, error) {
	if h, ok := fh.(*handle); ok {
		return h.f, nil
	}
	if n.Mode()&syscall.S_IFMT != syscall.S_IFREG {
		return nil, syscall.EINVAL
	}
	return n.sys.openFile(n.key(), p, false)
}

// Open implements fs.NodeOpener. The kernel's page cache stays on (no
// direct I/O, so mmap works) in write-through mode: reads of pages it does
// not hold come here and see the overlay.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !n.sys.enter() {
		return nil, 0, syscall.EIO
	}
	defer n.sys.leave()
	if n.Mode()&syscall.S_IFMT != syscall.S_IFREG {
		return nil, 0, syscall.EINVAL
	}
	f, err := n.sys.openFile(n.key(), n.abs(n.rel()), true)
	if err != nil {
		return nil, 0, errno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		if err := f.truncate(0); err != nil {
			n.sys.release(f)
			return nil, 0, errno(err)
		}
	}
	return &handle{f: f}, 0, 0
}

// Create implements fs.NodeCreater. The name is created in the backing
// directory at once (and under NamespaceDirSync recorded to be undone);
// a truncation of an existing file is volatile.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if !n.sys.enter() {
		return nil, nil, 0, syscall.EIO
	}
	defer n.sys.leave()
	if n.hidden(name) {
		return nil, nil, 0, syscall.EPERM
	}
	rel := n.child(name)
	p := n.abs(rel)
	created := true
	err := n.sys.ns.record(nsOp{kind: opCreate, path: rel}, func() error {
		fd, err := syscall.Open(p, syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR|syscall.O_CLOEXEC, mode&07777)
		if err == nil {
			return syscall.Close(fd)
		}
		if errors.Is(err, syscall.EEXIST) && flags&syscall.O_EXCL == 0 {
			created = false
			return errNotRecorded
		}
		return err
	})
	if err != nil && !errors.Is(err, errNotRecorded) {
		return nil, nil, 0, errno(err)
	}
	ch, e := n.newChild(ctx, p, out)
	if e != 0 {
		return nil, nil, 0, e
	}
	cn := ch.Operations().(*node)
	f, err := n.sys.openFile(cn.key(), p, true)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	if !created && flags&syscall.O_TRUNC != 0 {
		if err := f.truncate(0); err != nil {
			n.sys.release(f)
			return nil, nil, 0, errno(err)
		}
		out.Attr.Size = 0
	}
	return ch, &handle{f: f}, 0, 0
}

// Mkdir implements fs.NodeMkdirer.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.sys.enter() {
		return nil, syscall.EIO
	}
	defer n.sys.leave()
	if n.hidden(name) {
		return nil, syscall.EPERM
	}
	rel := n.child(name)
	p := n.abs(rel)
	if err := n.sys.ns.record(nsOp{kind: opCreate, path: rel}, func() error {
		return syscall.Mkdir(p, mode&07777)
	}); err != nil {
		return nil, errno(err)
	}
	return n.newChild(ctx, p, out)
}

// Unlink implements fs.NodeUnlinker.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	if n.hidden(name) {
		return syscall.ENOENT
	}
	rel := n.child(name)
	p := n.abs(rel)
	st, gen, err := lstat(p)
	if err != nil {
		return errno(err)
	}
	if err := n.sys.ns.remove(rel, func() error { return syscall.Unlink(p) }); err != nil {
		return errno(err)
	}
	n.sys.detach(fileKey{ino: st.Ino, gen: gen})
	return 0
}

// Rmdir implements fs.NodeRmdirer.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	if n.hidden(name) {
		return syscall.ENOENT
	}
	rel := n.child(name)
	p := n.abs(rel)
	if n.sys.ns != nil {
		// The journal moves the directory away instead of removing it, so
		// it checks what rmdir(2) would.
		ents, err := os.ReadDir(p)
		if err != nil {
			return errno(unwrapPath(err))
		}
		if len(ents) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	return errno(n.sys.ns.remove(rel, func() error { return syscall.Rmdir(p) }))
}

// Rename implements fs.NodeRenamer. RENAME_NOREPLACE is supported;
// RENAME_EXCHANGE is not.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if n.hidden(name) || np.hidden(newName) {
		return syscall.EPERM
	}
	if flags&^unix.RENAME_NOREPLACE != 0 {
		return syscall.ENOTSUP
	}
	from, to := n.child(name), np.child(newName)
	p, q := n.abs(from), n.abs(to)
	src, _, err := lstat(p)
	if err != nil {
		return errno(err)
	}
	dst, dstGen, dstErr := lstat(q)
	replaced := dstErr == nil && dst.Ino != src.Ino
	if err := n.sys.ns.rename(from, to, flags, func() error {
		return unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, q, uint(flags))
	}); err != nil {
		return errno(err)
	}
	if replaced {
		n.sys.detach(fileKey{ino: dst.Ino, gen: dstGen})
	}
	return 0
}

// Readdir implements fs.NodeReaddirer: the backing directory's entries.
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if !n.sys.enter() {
		return nil, syscall.EIO
	}
	defer n.sys.leave()
	ents, err := os.ReadDir(n.abs(n.rel()))
	if err != nil {
		return nil, errno(unwrapPath(err))
	}
	list := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		if n.hidden(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		if st == nil {
			continue
		}
		list = append(list, fuse.DirEntry{Name: e.Name(), Mode: st.Mode, Ino: st.Ino})
	}
	return fs.NewListDirStream(list), 0
}

// Read implements fs.NodeReader: the overlay over the backing file.
func (n *node) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if !n.sys.enter() {
		return nil, syscall.EIO
	}
	defer n.sys.leave()
	h, ok := fh.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	got, err := h.f.readAt(dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:got]), 0
}

// Write implements fs.NodeWriter: into the overlay only.
func (n *node) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if !n.sys.enter() {
		return 0, syscall.EIO
	}
	defer n.sys.leave()
	h, ok := fh.(*handle)
	if !ok {
		return 0, syscall.EBADF
	}
	if err := h.f.writeAt(data, off); err != nil {
		return 0, errno(err)
	}
	n.sys.bytesWritten.Add(uint64(len(data)))
	return uint32(len(data)), 0
}

// Allocate implements fs.NodeAllocater: a size change in the overlay.
func (n *node) Allocate(ctx context.Context, fh fs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	h, ok := fh.(*handle)
	if !ok {
		return syscall.EBADF
	}
	return errno(h.f.allocate(int64(off), int64(size), mode))
}

// Fsync implements fs.NodeFsyncer for files (fsync and fdatasync alike
// make contents and size durable) and directories (their namespace
// operations become durable under NamespaceDirSync). A sync delay set for
// the node's directory (SetSyncDelay) is served first, outside the
// operation, so a stalled sync holds up neither a power cut nor the
// operations on other files.
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	n.sys.delays.wait(ctx, n.rel())
	if !n.sys.enter() {
		return syscall.EIO
	}
	defer n.sys.leave()
	if n.IsDir() {
		n.sys.dirSyncs.Add(1)
		return errno(n.sys.ns.synced(n.rel()))
	}
	n.sys.syncs.Add(1)
	f := n.sys.knownFile(n.key())
	if h, ok := fh.(*handle); ok {
		f = h.f
	}
	if f == nil {
		return 0 // never opened since the last cut: nothing volatile
	}
	if _, err := f.sync(n.sys.opts.SyncBacking); err != nil {
		return syscall.EIO
	}
	return 0
}

// Flush implements fs.NodeFlusher: close(2) makes nothing durable.
func (n *node) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }

// Release implements fs.NodeReleaser.
func (n *node) Release(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	if !n.sys.enter() {
		return 0 // the cut dropped every file
	}
	defer n.sys.leave()
	if h, ok := fh.(*handle); ok {
		n.sys.release(h.f)
	}
	return 0
}

// lstat returns the attributes of the backing path p and a generation
// number from its birth time, so that an inode number the backing file
// system reuses is a different file here.
func lstat(p string) (syscall.Stat_t, uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return st, 0, err
	}
	var sx unix.Statx_t
	gen := uint64(1)
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx); err == nil && sx.Mask&unix.STATX_BTIME != 0 {
		gen = uint64(sx.Btime.Sec)*1e9 + uint64(sx.Btime.Nsec)
	}
	return st, gen, nil
}

// unwrapPath returns the errno inside a *os.PathError.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
