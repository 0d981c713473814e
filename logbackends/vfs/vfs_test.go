package vfs

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"path/filepath"
	"syscall"
	"testing"
)

// exercise runs the same file operations against any FS.
func exercise(t *testing.T, fsys FS, dir string) {
	t.Helper()
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "a")
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Preallocate(4096); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Size(); err != nil || n != 4096 {
		t.Fatalf("size after preallocate = %d, %v", n, err)
	}
	if _, err := f.WriteAt([]byte("hello"), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("xy")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 15)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("xy"), make([]byte, 8)...)
	want = append(want, "hello"...)
	if !bytes.Equal(buf, want) {
		t.Fatalf("read %q, want %q", buf, want)
	}
	if _, err := f.ReadAt(make([]byte, 10), 4090); !errors.Is(err, io.EOF) {
		t.Fatalf("read past end: err = %v, want EOF", err)
	}
	if err := f.Truncate(12); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename(name, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	names, err := fsys.List(dir)
	if err != nil || len(names) != 1 || names[0] != "b" {
		t.Fatalf("List = %v, %v", names, err)
	}
	fi, err := fsys.Stat(filepath.Join(dir, "b"))
	if err != nil || fi.Size() != 12 {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if _, err := fsys.Open(filepath.Join(dir, "a")); err == nil {
		t.Fatal("open of renamed file succeeded")
	}
	if err := fsys.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
}

func TestFS(t *testing.T) {
	tests := []struct {
		name string
		fs   FS
		dir  func(t *testing.T) string
	}{
		{"os", OS{}, func(t *testing.T) string { return t.TempDir() }},
		{"mem", NewMem(), func(*testing.T) string { return "/data/log" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { exercise(t, tt.fs, tt.dir(t)) })
	}
}

func readAll(t *testing.T, fsys FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && n > 0 {
		t.Fatal(err)
	}
	return b
}

func TestMemCrashClone(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create("/d/f")
	f.WriteAt([]byte("durable"), 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("volatile"), 7)
	g, _ := m.Create("/d/g") // never dir-synced

	tests := []struct {
		name     string
		keep     float64
		wantF    string
		wantGone bool
	}{
		{"keep nothing unsynced", 0, "durable", true},
		{"keep everything unsynced", 1, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := m.CrashClone(rand.New(rand.NewSource(1)), tt.keep)
			got := string(readAll(t, c, "/d/f"))
			if tt.wantF != "" && got != tt.wantF {
				t.Fatalf("f = %q, want %q", got, tt.wantF)
			}
			if tt.keep == 1 && got != "durablevolatile" && got != "durable" {
				// A kept write may still be torn at a sector boundary;
				// one this short is kept whole or not at all.
				t.Fatalf("f = %q", got)
			}
			if _, err := c.Stat("/d/g"); (err != nil) != tt.wantGone {
				t.Fatalf("g present = %v, want gone = %v", err == nil, tt.wantGone)
			}
		})
	}
	_ = g
	// Everything durable survives every clone, and the clone is durable itself.
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 50; i++ {
		c := m.CrashClone(rng, 0.5)
		got := readAll(t, c, "/d/f")
		if !bytes.HasPrefix(got, []byte("durable")) {
			t.Fatalf("clone %d lost synced bytes: %q", i, got)
		}
		cc := c.CrashClone(rng, 0)
		if !bytes.Equal(readAll(t, cc, "/d/f"), got) {
			t.Fatalf("a clone is not durable")
		}
	}
}

func TestMemTornWritesAtSectorBoundaries(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o700)
	m.SyncDir("/")
	f, _ := m.Create("/d/f")
	m.SyncDir("/d")
	payload := bytes.Repeat([]byte{0xAB}, 4*SectorSize)
	f.WriteAt(payload, 100)
	rng := rand.New(rand.NewSource(3))
	torn := 0
	for i := 0; i < 200; i++ {
		got := readAll(t, m.CrashClone(rng, 1), "/d/f")
		n := len(got)
		if n != 0 && n != 100+len(payload) {
			torn++
			if n%SectorSize != 0 {
				t.Fatalf("torn write ends at %d, not at a sector boundary", n)
			}
		}
	}
	if torn == 0 {
		t.Fatal("no clone tore the write")
	}
}

func TestMemFaults(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o700)
	m.SyncDir("/")
	f, _ := m.Create("/d/f")
	m.SyncDir("/d")
	// The space runs out at a sector boundary: of a write from 500 with
	// 20 bytes left, the 12 bytes up to 512 are written.
	m.FailWritesAfter(20)
	n, err := f.WriteAt(bytes.Repeat([]byte{1}, 40), 500)
	if n != 12 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt = %d, %v; want 12, ENOSPC", n, err)
	}
	if n, err := f.WriteAt([]byte("x"), 0); n != 0 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a write on a full disk = %d, %v; want 0, ENOSPC", n, err)
	}
	m.FailWritesAfter(-1)
	if _, err := f.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	m.FailSyncs(syscall.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if got := readAll(t, m.CrashClone(rand.New(rand.NewSource(1)), 0), "/d/f"); len(got) != 0 {
		t.Fatalf("a failed sync made %d bytes durable", len(got))
	}
	m.FailSyncs(nil)
	calls := 0
	m.SetSyncHook(func(name string) { calls++ })
	if err := f.Sync(); err != nil || calls != 1 {
		t.Fatalf("Sync = %v, hook calls = %d", err, calls)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestMemDirectoriesDurableOnceTheParentIsSynced(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/a/b", 0o700); err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create("/a/b/f")
	f.Sync()
	m.SyncDir("/a/b")
	exists := func(c *Mem, name string) bool {
		_, err := c.Stat(name)
		return err == nil
	}
	rng := rand.New(rand.NewSource(1))
	steps := []struct {
		name string
		sync string // the directory synced before the clone; "" for none
		want []bool // /a, /a/b, /a/b/f
	}{
		{"nothing synced above the file", "", []bool{false, false, false}},
		{"only the leaf's parent synced", "/a", []bool{false, false, false}},
		{"the whole path synced", "/", []bool{true, true, true}},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sync != "" {
				m.SyncDir(tt.sync)
			}
			c := m.CrashClone(rng, 0)
			for k, name := range []string{"/a", "/a/b", "/a/b/f"} {
				if got := exists(c, name); got != tt.want[k] {
					t.Errorf("%s survives: %v, want %v", name, got, tt.want[k])
				}
			}
		})
	}
}

func TestMemMisorderedSyncsLandOneLate(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o700)
	m.SyncDir("/")
	f, _ := m.Create("/d/f")
	m.SyncDir("/d")
	m.MisorderSyncs(true)
	durable := func() string {
		return string(readAll(t, m.CrashClone(rand.New(rand.NewSource(1)), 0), "/d/f"))
	}
	f.WriteAt([]byte("one"), 0)
	f.Sync()
	if got := durable(); got != "" {
		t.Fatalf("after the first misordered sync %q is durable, want nothing", got)
	}
	f.WriteAt([]byte("two"), 3)
	f.Sync()
	if got := durable(); got != "one" {
		t.Fatalf("after the second misordered sync %q is durable, want %q", got, "one")
	}
	m.MisorderSyncs(false)
	f.Sync()
	if got := durable(); got != "onetwo" {
		t.Fatalf("after an ordered sync %q is durable, want %q", got, "onetwo")
	}
}

func TestMemCrashCloneWithHoldsTheFileSystemStill(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o700)
	m.SyncDir("/")
	f, _ := m.Create("/d/f")
	m.SyncDir("/d")
	f.WriteAt([]byte("before"), 0)
	ran := false
	clone := m.CrashCloneWith(rand.New(rand.NewSource(1)), 1, func() {
		ran = true
		// Every operation takes the lock: while it is held none can start
		// or complete.
		if m.mu.TryLock() {
			m.mu.Unlock()
			t.Error("the file system is not held while the clone's instant is imaged")
		}
	})
	if !ran {
		t.Fatal("CrashCloneWith did not run its function")
	}
	if got := string(readAll(t, clone, "/d/f")); got != "before" {
		t.Fatalf("the clone holds %q, want %q", got, "before")
	}
}

// dataEndOf returns f's DataEnd after checking what it promises: it is no
// earlier than written (the end of the last byte written), no later than
// the size, and the file reads as zeros from it on.
func dataEndOf(t *testing.T, f File, written int64) int64 {
	t.Helper()
	end, err := f.(DataFinder).DataEnd()
	if err != nil {
		t.Fatal(err)
	}
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	if end < written || end > size {
		t.Fatalf("DataEnd = %d, want within [%d, %d]", end, written, size)
	}
	rest := make([]byte, size-end)
	if _, err := f.ReadAt(rest, end); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if i := bytes.IndexFunc(rest, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("DataEnd = %d, but byte %d is not zero", end, end+int64(i))
	}
	return end
}

func TestDataEnd(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name string
		fs   FS
		dir  func(t *testing.T) string
		// exact: the file system reports exactly where writes end.
		exact bool
	}{
		{"os", OS{}, func(t *testing.T) string { return t.TempDir() }, false},
		{"mem", NewMem(), func(*testing.T) string { return "/data" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			if err := tt.fs.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			f, err := tt.fs.Create(filepath.Join(dir, "seg"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Preallocate(size); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name    string
				do      func() error
				written int64
			}{
				{"preallocated", func() error { return nil }, 0},
				{"written inside", func() error {
					if _, err := f.Write([]byte("xy")); err != nil {
						return err
					}
					_, err := f.WriteAt([]byte("hello"), 200000)
					return err
				}, 200005},
				{"synced", f.Sync, 200005},
				{"truncated and preallocated again", func() error {
					if err := f.Truncate(100); err != nil {
						return err
					}
					return f.Preallocate(size)
				}, 2},
			}
			for _, s := range steps {
				if err := s.do(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				end := dataEndOf(t, f, s.written)
				t.Logf("%s: DataEnd = %d", s.name, end)
				if tt.exact && s.name != "truncated and preallocated again" && end != s.written {
					t.Fatalf("%s: DataEnd = %d, want %d", s.name, end, s.written)
				}
			}
			// DataEnd leaves the offset Write uses where it was.
			if _, err := f.Write([]byte("zz")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			if _, err := f.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if string(got) != "xyzz" {
				t.Fatalf("after DataEnd, Write wrote at the wrong offset: file starts %q, want %q", got, "xyzz")
			}
		})
	}
}

func TestMemDataEndOfACrashClone(t *testing.T) {
	m := NewMem()
	f, err := m.Create("/seg")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Preallocate(8192); err != nil {
		t.Fatal(err)
	}
	// A write whose last bytes are zeros: they read as zero whether written
	// or not, so the clone's data ends before them.
	if _, err := f.WriteAt(append([]byte("abc"), make([]byte, 1000)...), 512); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	c := m.CrashClone(rand.New(rand.NewSource(1)), 0)
	g, err := c.Open("/seg")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if end := dataEndOf(t, g, 515); end != 515 {
		t.Fatalf("clone's DataEnd = %d, want 515", end)
	}
}
