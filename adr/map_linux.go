package adr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Mapping on Linux.
//
// devdax (/dev/daxN.M) is a character device that supports only mmap: no
// page cache, no file system, so a cache-line flush and a fence are all
// that make a store durable. The mapping must be a multiple of the
// device's alignment (2 MiB by default), which sysfs reports.
//
// fsdax is a file on a DAX-mounted file system (ext4/xfs -o dax) on a pmem
// block device. MAP_SYNC (with MAP_SHARED_VALIDATE, so that an old kernel
// rejects it instead of ignoring it) promises that the file's metadata for
// every mapped page is durable before a write fault completes, so again a
// flush and a fence suffice. A file system without DAX refuses MAP_SYNC
// (EOPNOTSUPP; EINVAL on kernels that predate MAP_SHARED_VALIDATE); then the
// file is mapped MAP_SHARED and every Fence calls msync(MS_SYNC) on the
// pages flushed since the last one, as PMDK does, and Info.Warning says so.
//
// The persistence domain is read from the nvdimm region above the device
// (/sys/bus/nd/devices/regionN/persistence_domain, found through
// /sys/dev/{char,block}/MAJOR:MINOR); when none is reported ADR
// (memory_controller) is assumed, which flushes: never wrong, at worst
// slower.

// emulatedDir is tmpfs: it survives a process crash, not a reboot.
func emulatedDir() string { return "/dev/shm" }

// allocateFile gives f size bytes of real blocks (tmpfs pages) up front, so
// that a full file system fails Open with ENOSPC rather than a later store
// with SIGBUS; ftruncate stands in where fallocate is not supported.
func allocateFile(f *os.File, size int) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size))
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = f.Truncate(int64(size))
	}
	return err
}

// mapRegion opens a devdax, fsdax, emulated or auto region; cfg is valid
// and has a Path.
func mapRegion(cfg RegionConfig, env openEnv) (Region, error) {
	switch cfg.Kind {
	case KindDevDax:
		return openDevDax(cfg, env)
	case KindFSDax:
		return openFSDax(cfg, env, false)
	case KindEmulated:
		return openEmulated(cfg, env.cpu, "")
	}
	// Auto: a character device is devdax; anything else is tried as fsdax
	// and taken as emulated when the kernel refuses MAP_SYNC.
	if st, err := os.Stat(cfg.Path); err == nil && st.Mode()&fs.ModeCharDevice != 0 {
		return openDevDax(cfg, env)
	}
	return openFSDax(cfg, env, true)
}

func openDevDax(cfg RegionConfig, env openEnv) (Region, error) {
	f, err := os.OpenFile(cfg.Path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: devdax: %w", ErrMap, err)
	}
	rf := &regionFile{f: f}
	r, err := mapDevDax(rf, cfg, env)
	if err != nil {
		rf.discard()
		return nil, err
	}
	return r, nil
}

func mapDevDax(rf *regionFile, cfg RegionConfig, env openEnv) (Region, error) {
	if err := lockFile(rf.f); err != nil {
		return nil, fmt.Errorf("%w: devdax %s: %w", ErrMap, cfg.Path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(rf.f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("%w: devdax %s: %w", ErrMap, cfg.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil, fmt.Errorf("%w: path: devdax %s is not a character device (want /dev/daxN.M)", ErrRegionConfig, cfg.Path)
	}
	dir := sysfsDevDir(env.sysfs, "char", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	devSize, haveSize := sysfsInt(dir, "size")
	size := cfg.Size
	switch {
	case size == 0 && !haveSize:
		return nil, fmt.Errorf("%w: size: 0 takes the device's size, but %s/size is unreadable; configure a size", ErrRegionConfig, dir)
	case size == 0:
		size = int(devSize)
	case haveSize && int64(size) > devSize:
		return nil, fmt.Errorf("%w: size: %d is larger than devdax %s (%d bytes)", ErrRegionConfig, size, cfg.Path, devSize)
	}
	if align, ok := sysfsInt(dir, "align"); ok && align > 0 && int64(size)%align != 0 {
		return nil, fmt.Errorf("%w: size: %d is not a multiple of devdax %s's alignment %d", ErrRegionConfig, size, cfg.Path, align)
	}
	domain, warning := domainOf(persistenceDomain(env.sysfs, dir))
	k := chooseFlush(env.cpu, domain)
	if k == flushPortable {
		return nil, fmt.Errorf("%w: devdax %s: no cache-line flush instruction is available on this CPU architecture and the domain is %s", ErrMap, cfg.Path, domain)
	}
	rf.size = size
	mem, err := rf.mmap(unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap devdax %s (%d bytes): %w", ErrMap, cfg.Path, size, err)
	}
	info := Info{Kind: KindDevDax, Path: cfg.Path, Domain: domain, Warning: warning}
	return newMapped(rf, mem, info, k), nil
}

// openFSDax maps a file with MAP_SYNC. When the kernel refuses, auto takes
// the file as an emulated region; an explicit fsdax falls back to msync.
func openFSDax(cfg RegionConfig, env openEnv, auto bool) (Region, error) {
	rf, err := openRegionFile(cfg.Path, cfg.Size)
	if err != nil {
		return nil, err
	}
	mem, err := rf.mmap(unix.MAP_SHARED_VALIDATE | unix.MAP_SYNC)
	if err == nil {
		return syncMapped(rf, mem, cfg, env), nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
		rf.discard()
		return nil, fmt.Errorf("%w: mmap %s MAP_SYNC: %w", ErrMap, cfg.Path, err)
	}
	refused := fmt.Sprintf("the kernel refused MAP_SYNC for %s (%v): not a DAX file system", cfg.Path, err)
	if auto {
		return emulatedFrom(rf, cfg, env.cpu, refused+"; mapped as an emulated region")
	}
	mem, err = rf.mmap(unix.MAP_SHARED)
	if err != nil {
		rf.discard()
		return nil, fmt.Errorf("%w: mmap %s: %w", ErrMap, cfg.Path, err)
	}
	info := Info{Kind: KindFSDax, Path: cfg.Path, Domain: DomainMemoryController,
		Warning: refused + "; every Fence calls msync(MS_SYNC)"}
	return newMapped(rf, mem, info, flushMsync), nil
}

// syncMapped describes a MAP_SYNC mapping. Without a flush instruction
// (non-amd64) msync still makes it durable: on DAX the kernel writes back
// the CPU cache lines of the range.
func syncMapped(rf *regionFile, mem []byte, cfg RegionConfig, env openEnv) Region {
	reported := ""
	var st unix.Stat_t
	if unix.Fstat(int(rf.f.Fd()), &st) == nil {
		dev := uint64(st.Dev)
		reported = persistenceDomain(env.sysfs, sysfsDevDir(env.sysfs, "block", unix.Major(dev), unix.Minor(dev)))
	}
	domain, warning := domainOf(reported)
	k := chooseFlush(env.cpu, domain)
	if k == flushPortable {
		k = flushMsync
		warning = "no cache-line flush instruction on this CPU architecture; every Fence calls msync(MS_SYNC)"
	}
	info := Info{Kind: KindFSDax, Path: cfg.Path, Domain: domain, Warning: warning}
	return newMapped(rf, mem, info, k)
}
