package lossyfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// mounted is a lossy file system mounted for a test.
type mounted struct {
	fs      *FS
	dir     string // the mountpoint
	backing string
}

// mountFS mounts a lossy file system over a fresh backing directory, or
// skips the test naming what is missing when this machine has no FUSE.
func mountFS(t *testing.T, opts Options) *mounted {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("SKIPPING: this test mounts a FUSE file system: %v", err)
	}
	m := &mounted{dir: t.TempDir(), backing: t.TempDir()}
	var err error
	if m.fs, err = New(m.backing, opts); err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Mount(m.dir); err != nil {
		t.Fatalf("FUSE looked available but the mount failed: %v", err)
	}
	t.Cleanup(func() {
		if err := m.fs.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// path is name inside the mount.
func (m *mounted) path(name string) string { return filepath.Join(m.dir, name) }

// cut cuts the power and mounts again, as a machine that reboots.
func (m *mounted) cut(t *testing.T) CutStats {
	t.Helper()
	cs, err := m.fs.PowerCut()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Mount(m.dir); err != nil {
		t.Fatal(err)
	}
	return cs
}

// fileOps is a small vocabulary for the model tests; each step fails the
// test on error.
type fileOps struct {
	t *testing.T
	m *mounted
}

func (o fileOps) open(name string, flag int) *os.File {
	o.t.Helper()
	f, err := os.OpenFile(o.m.path(name), flag, 0o600)
	if err != nil {
		o.t.Fatal(err)
	}
	return f
}

func (o fileOps) writeAt(f *os.File, data string, off int64) {
	o.t.Helper()
	if _, err := f.WriteAt([]byte(data), off); err != nil {
		o.t.Fatal(err)
	}
}

func (o fileOps) fdatasync(f *os.File) {
	o.t.Helper()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		o.t.Fatal(err)
	}
}

func (o fileOps) fsync(f *os.File) {
	o.t.Helper()
	if err := f.Sync(); err != nil {
		o.t.Fatal(err)
	}
}

func (o fileOps) truncate(f *os.File, size int64) {
	o.t.Helper()
	if err := f.Truncate(size); err != nil {
		o.t.Fatal(err)
	}
}

func (o fileOps) fallocate(f *os.File, size int64) {
	o.t.Helper()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		o.t.Fatal(err)
	}
}

func (o fileOps) syncDir(name string) {
	o.t.Helper()
	d, err := os.Open(o.m.path(name))
	if err != nil {
		o.t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		o.t.Fatal(err)
	}
}

// content returns the file's bytes, or nil with false when it does not
// exist.
func (o fileOps) content(name string) ([]byte, bool) {
	o.t.Helper()
	b, err := os.ReadFile(o.m.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		o.t.Fatal(err)
	}
	return b, true
}

// want is the expected content of a file; missing means it must not exist.
type want struct {
	name    string
	content string
	missing bool
}

func (o fileOps) check(when string, wants []want) {
	o.t.Helper()
	for _, w := range wants {
		got, ok := o.content(w.name)
		switch {
		case w.missing && ok:
			o.t.Errorf("%s: %s exists with %d bytes, want it gone", when, w.name, len(got))
		case !w.missing && !ok:
			o.t.Errorf("%s: %s does not exist, want %d bytes", when, w.name, len(w.content))
		case !w.missing && !bytes.Equal(got, []byte(w.content)):
			o.t.Errorf("%s: %s = %q, want %q", when, w.name, abbrev(got), abbrev([]byte(w.content)))
		}
	}
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:20]) + "…" + string(b[len(b)-20:])
	}
	return string(b)
}

func zeros(n int) string { return string(make([]byte, n)) }

// TestLossyFileModel runs each case's steps on a mount, checks what a reader
// sees before the power cut (every write visible) and what is left after
// it (only what was synced).
func TestLossyFileModel(t *testing.T) {
	tests := []struct {
		name   string
		steps  func(o fileOps)
		before []want
		after  []want
	}{
		{
			name: "write without sync is gone",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "hello", 0)
				f.Close()
			},
			before: []want{{name: "a", content: "hello"}},
			// The name is durable at once under NamespaceImmediate; its
			// contents are not.
			after: []want{{name: "a", content: ""}},
		},
		{
			name: "fdatasync keeps the write",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "hello", 0)
				o.fdatasync(f)
				f.Close()
			},
			before: []want{{name: "a", content: "hello"}},
			after:  []want{{name: "a", content: "hello"}},
		},
		{
			name: "fsync keeps the write, later writes are gone",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "hello", 0)
				o.fsync(f)
				o.writeAt(f, "J", 0)
				o.writeAt(f, " world", 5)
				f.Close()
			},
			before: []want{{name: "a", content: "Jello world"}},
			after:  []want{{name: "a", content: "hello"}},
		},
		{
			name: "a sync through another descriptor covers the file",
			steps: func(o fileOps) {
				w := o.open("a", os.O_CREATE|os.O_WRONLY)
				o.writeAt(w, "data", 0)
				w.Close()
				r := o.open("a", os.O_RDONLY)
				o.fsync(r)
				r.Close()
			},
			before: []want{{name: "a", content: "data"}},
			after:  []want{{name: "a", content: "data"}},
		},
		{
			name: "truncate is volatile",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "0123456789", 0)
				o.fdatasync(f)
				o.truncate(f, 3)
				f.Close()
			},
			before: []want{{name: "a", content: "012"}},
			after:  []want{{name: "a", content: "0123456789"}},
		},
		{
			name: "truncate down and up reads zeros, and a sync keeps that",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "0123456789", 0)
				o.fdatasync(f)
				o.truncate(f, 3)
				o.truncate(f, 6)
				o.fdatasync(f)
				f.Close()
			},
			before: []want{{name: "a", content: "012" + zeros(3)}},
			after:  []want{{name: "a", content: "012" + zeros(3)}},
		},
		{
			name: "O_TRUNC is volatile",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "old", 0)
				o.fsync(f)
				f.Close()
				f = o.open("a", os.O_RDWR|os.O_TRUNC)
				o.writeAt(f, "n", 0)
				f.Close()
			},
			before: []want{{name: "a", content: "n"}},
			after:  []want{{name: "a", content: "old"}},
		},
		{
			name: "preallocation is volatile",
			steps: func(o fileOps) {
				f := o.open("seg", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "rec", 0)
				o.fdatasync(f)
				o.fallocate(f, 64<<10)
				o.writeAt(f, "more", 3)
				f.Close()
			},
			before: []want{{name: "seg", content: "recmore" + zeros(64<<10-7)}},
			after:  []want{{name: "seg", content: "rec"}},
		},
		{
			name: "preallocation and records made durable by fdatasync, as the segment log does",
			steps: func(o fileOps) {
				f := o.open("seg", os.O_CREATE|os.O_RDWR)
				o.fallocate(f, 64<<10)
				o.fdatasync(f)
				o.writeAt(f, "rec1", 0)
				o.fdatasync(f)
				o.writeAt(f, "rec2", 4)
				f.Close()
			},
			before: []want{{name: "seg", content: "rec1rec2" + zeros(64<<10-8)}},
			after:  []want{{name: "seg", content: "rec1" + zeros(64<<10-4)}},
		},
		{
			name: "rename is durable at once, contents as synced",
			steps: func(o fileOps) {
				f := o.open("tmp", os.O_CREATE|os.O_RDWR)
				o.writeAt(f, "synced", 0)
				o.fsync(f)
				o.writeAt(f, "!", 6)
				f.Close()
				if err := os.Rename(o.m.path("tmp"), o.m.path("final")); err != nil {
					o.t.Fatal(err)
				}
			},
			before: []want{{name: "final", content: "synced!"}, {name: "tmp", missing: true}},
			after:  []want{{name: "final", content: "synced"}, {name: "tmp", missing: true}},
		},
		{
			name: "an unlinked file stays readable through its open descriptor",
			steps: func(o fileOps) {
				f := o.open("a", os.O_CREATE|os.O_RDWR)
				defer f.Close()
				o.writeAt(f, "volatile", 0)
				if err := os.Remove(o.m.path("a")); err != nil {
					o.t.Fatal(err)
				}
				got := make([]byte, 8)
				if _, err := f.ReadAt(got, 0); err != nil || string(got) != "volatile" {
					o.t.Fatalf("read after unlink: %q, %v", got, err)
				}
			},
			before: []want{{name: "a", missing: true}},
			after:  []want{{name: "a", missing: true}},
		},
		{
			name: "a file replaced by rename is gone, the new one as synced",
			steps: func(o fileOps) {
				for _, name := range []string{"old", "new"} {
					f := o.open(name, os.O_CREATE|os.O_RDWR)
					o.writeAt(f, name, 0)
					o.fsync(f)
					f.Close()
				}
				if err := os.Rename(o.m.path("new"), o.m.path("old")); err != nil {
					o.t.Fatal(err)
				}
			},
			before: []want{{name: "old", content: "new"}, {name: "new", missing: true}},
			after:  []want{{name: "old", content: "new"}, {name: "new", missing: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mountFS(t, Options{})
			o := fileOps{t: t, m: m}
			tc.steps(o)
			o.check("before the cut", tc.before)
			m.cut(t)
			o.check("after the cut", tc.after)
			// The backing directory holds the same: what a disk would.
			o.m = &mounted{dir: m.backing}
			o.check("in the backing directory", tc.after)
		})
	}
}
