//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package adr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// regionFile is an open, locked file or device that a region maps.
type regionFile struct {
	f       *os.File
	size    int
	created bool // by this Open: removed again if mapping it fails
}

// openRegionFile opens path for a region of size bytes (0: the size of the
// existing file). A missing or empty file is created and allocated; an
// existing one keeps its contents and must have the configured size. The
// file is locked (flock, exclusive) for as long as it is open, because two
// writers in one region would corrupt each other's log; the kernel drops
// the lock when a killed process's descriptors close, so a restart is
// never blocked by a crashed predecessor.
func openRegionFile(path string, size int) (*regionFile, error) {
	rf := &regionFile{}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		rf.created = err == nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMap, err)
	}
	rf.f = f
	if err := rf.init(path, size); err != nil {
		rf.discard()
		return nil, err
	}
	return rf, nil
}

func (rf *regionFile) init(path string, size int) error {
	if err := lockFile(rf.f); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMap, path, err)
	}
	st, err := rf.f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMap, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: path: %s is not a regular file (%v)", ErrRegionConfig, path, st.Mode().Type())
	}
	have := int(st.Size())
	switch {
	case have == 0 && size == 0:
		return fmt.Errorf("%w: size: 0 takes the size of an existing region, but %s is empty", ErrRegionConfig, path)
	case have == 0:
		if err := allocateFile(rf.f, size); err != nil {
			return fmt.Errorf("%w: allocating %d bytes for %s: %w", ErrMap, size, path, err)
		}
		have = size
	case size != 0 && have != size:
		return fmt.Errorf("%w: size: %s holds a region of %d bytes, configured %d", ErrRegionConfig, path, have, size)
	case have%regionPageSize != 0:
		return fmt.Errorf("%w: size: %s is %d bytes, not a multiple of %d", ErrRegionConfig, path, have, regionPageSize)
	}
	rf.size = have
	return nil
}

// discard closes the file and removes it if this Open created it, so a
// failed Open leaves nothing behind on tmpfs.
func (rf *regionFile) discard() {
	_ = rf.f.Close()
	if rf.created {
		_ = os.Remove(rf.f.Name())
	}
}

// mmap maps the whole file read-write with flags.
func (rf *regionFile) mmap(flags int) ([]byte, error) {
	return unix.Mmap(int(rf.f.Fd()), 0, rf.size, unix.PROT_READ|unix.PROT_WRITE, flags)
}

// lockFile takes an exclusive, non-blocking flock: a second Open of the same
// region, in this process or another, fails at once instead of sharing it.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("region is open elsewhere (locked): %w", err)
	}
	return err
}

// newMapped wraps a mapping of rf. Close unmaps before it closes the file,
// which also releases the lock.
func newMapped(rf *regionFile, mem []byte, info Info, k flushKind) *mapped {
	info.Size = len(mem)
	info.Flush = k.String()
	page := os.Getpagesize()
	return &mapped{
		mem:   mem,
		info:  info,
		flush: k,
		unmap: func() error {
			err := unix.Munmap(mem)
			if cerr := rf.f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%w: closing %s: %w", ErrMap, info.Path, err)
			}
			return nil
		},
		msync: func(lo, hi int) error {
			lo, hi = pageRange(lo, hi, page, len(mem))
			return unix.Msync(mem[lo:hi], unix.MS_SYNC)
		},
	}
}

// openEmulated maps a file MAP_SHARED: an emulated region. Its contents
// outlive the process (the page cache, or tmpfs, keeps them) but not a
// power loss, so its domain is none. It still flushes with the CPU's best
// instruction so that the write path and its cost are those of real
// persistent memory.
func openEmulated(cfg RegionConfig, cpu cpuFeatures, warning string) (Region, error) {
	rf, err := openRegionFile(cfg.Path, cfg.Size)
	if err != nil {
		return nil, err
	}
	return emulatedFrom(rf, cfg, cpu, warning)
}

// emulatedFrom maps an opened region file as an emulated region.
func emulatedFrom(rf *regionFile, cfg RegionConfig, cpu cpuFeatures, warning string) (Region, error) {
	mem, err := rf.mmap(unix.MAP_SHARED)
	if err != nil {
		rf.discard()
		return nil, fmt.Errorf("%w: mmap %s: %w", ErrMap, cfg.Path, err)
	}
	info := Info{Kind: KindEmulated, Path: cfg.Path, Domain: DomainNone, Emulated: true, Warning: warning}
	return newMapped(rf, mem, info, chooseFlush(cpu, DomainNone)), nil
}
