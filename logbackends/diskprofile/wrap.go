package diskprofile

import (
	"math/rand/v2"
	"time"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// Wrap returns fsys with p's latency added to every file Sync and SyncDir.
// A profile that adds nothing returns fsys itself, so native costs nothing.
func Wrap(fsys vfs.FS, p Profile) vfs.FS {
	if p.SyncLatency <= 0 && p.Jitter <= 0 {
		return fsys
	}
	return &slowFS{FS: fsys, p: p}
}

type slowFS struct {
	vfs.FS
	p Profile
}

// Emulated reports what this file system emulates; the file log backends
// find it by type assertion and copy it into their Stats.
func (s *slowFS) Emulated() []string { return []string{s.p.Label()} }

// delay sleeps the profile's latency plus its jitter. The jitter comes from
// math/rand/v2's goroutine-safe global source: no state of our own to lock.
func (s *slowFS) delay() {
	d := s.p.SyncLatency
	if s.p.Jitter > 0 {
		d += rand.N(s.p.Jitter + 1)
	}
	time.Sleep(d)
}

func (s *slowFS) Create(name string) (vfs.File, error) {
	f, err := s.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &slowFile{File: f, fs: s}, nil
}

func (s *slowFS) Open(name string) (vfs.File, error) {
	f, err := s.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &slowFile{File: f, fs: s}, nil
}

// SyncDir is a sync too: a directory fsync costs a real device a flush.
func (s *slowFS) SyncDir(dir string) error {
	err := s.FS.SyncDir(dir)
	s.delay()
	return err
}

type slowFile struct {
	vfs.File
	fs *slowFS
}

// Sync adds the latency after the real sync, so the emulated device is
// never faster than the real one.
func (f *slowFile) Sync() error {
	err := f.File.Sync()
	f.fs.delay()
	return err
}

// DataEnd forwards the file's own: reads are not slowed.
func (f *slowFile) DataEnd() (int64, error) { return vfs.DataEnd(f.File) }
