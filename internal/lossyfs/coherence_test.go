package lossyfs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMmapSeesWrites maps a file read-only and shared, as bbolt maps its
// database, and checks that the mapping shows every write made with
// pwrite through the mount, whole pages and parts of pages, before and
// after syncs, and that a fresh mapping after a remount without a power
// cut still shows the volatile writes.
func TestMmapSeesWrites(t *testing.T) {
	m := mountFS(t, Options{})
	const size = 4 * pageSize
	f, err := os.OpenFile(m.path("db"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	write := func(data []byte, off int) {
		t.Helper()
		if _, err := f.WriteAt(data, int64(off)); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], data)
	}
	write(bytes.Repeat([]byte{'a'}, pageSize), 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if !bytes.Equal(mem, want) {
			t.Fatalf("%s: the mapping differs from what was written at byte %d", when, firstDiff(mem, want))
		}
	}
	check("after a synced write")
	write(bytes.Repeat([]byte{'b'}, pageSize), pageSize)
	check("after a whole-page write")
	write([]byte("partial"), 2*pageSize+100)
	check("after a write inside a page")
	write([]byte("straddles"), 3*pageSize-4)
	check("after a write across pages")
	write([]byte("over the synced page"), 10)
	check("after overwriting synced data")
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	mem = nil
	f.Close()

	if err := m.fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Mount(m.dir); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(m.path("db"))
	if err != nil {
		t.Fatal(err)
	}
	if mem, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		t.Fatal(err)
	}
	check("after a remount without a power cut")
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestReadYourWritesThroughMount writes, truncates and syncs at random
// through the mount with two descriptors, checks each read against a
// model, then cuts the power and checks the last synced contents.
func TestReadYourWritesThroughMount(t *testing.T) {
	m := mountFS(t, Options{})
	rng := rand.New(rand.NewPCG(7, 7))
	w, err := os.OpenFile(m.path("f"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := os.Open(m.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ref := &refFile{}
	for step := range 200 {
		switch op := rng.IntN(10); {
		case op < 6:
			data := make([]byte, 1+rng.IntN(3*pageSize))
			for i := range data {
				data[i] = byte(rng.IntN(256))
			}
			off := rng.Int64N(6 * pageSize)
			if _, err := w.WriteAt(data, off); err != nil {
				t.Fatal(err)
			}
			ref.write(data, off)
		case op < 8:
			size := rng.Int64N(6 * pageSize)
			if err := w.Truncate(size); err != nil {
				t.Fatal(err)
			}
			ref.truncate(size)
		default:
			if err := unix.Fdatasync(int(w.Fd())); err != nil {
				t.Fatal(err)
			}
			ref.sync()
		}
		got := make([]byte, 12*pageSize) // larger than the file can grow
		n, err := r.ReadAt(got, 0)
		if err != nil && n == len(got) {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:n], ref.now) {
			t.Fatalf("step %d: read %d bytes, want %d; first difference at %d", step, n, len(ref.now), firstDiff(got[:n], ref.now))
		}
	}
	w.Close()
	r.Close()
	m.cut(t)
	got, err := os.ReadFile(m.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref.durable) {
		t.Fatalf("after the cut: %d bytes, the last sync made %d durable; first difference at %d", len(got), len(ref.durable), firstDiff(got, ref.durable))
	}
}

// TestPowerCutStopsTheMount checks that after a cut every operation on the
// mount fails with EIO until it is mounted again.
func TestPowerCutStopsTheMount(t *testing.T) {
	m := mountFS(t, Options{})
	f, err := os.OpenFile(m.path("a"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.fs.PowerCut(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("write after the cut: %v, want EIO", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync after the cut: %v, want EIO", err)
	}
	if _, err := os.Create(m.path("b")); err == nil {
		t.Errorf("create after the cut succeeded")
	}
	f.Close()
	if err := m.fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Mount(m.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.path("b"), []byte("on again"), 0o600); err != nil {
		t.Fatalf("write after powering on: %v", err)
	}
}

// TestStats checks the counters: bytes written, syncs, and what a cut
// dropped.
func TestStats(t *testing.T) {
	m := mountFS(t, Options{})
	f, err := os.OpenFile(m.path("a"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 1000), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 300), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 20), 5000); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	f.Close()
	cs, err := m.fs.PowerCut()
	if err != nil {
		t.Fatal(err)
	}
	if want := (CutStats{BytesDropped: 320, FilesDropped: 1}); cs != want {
		t.Errorf("cut stats %+v, want %+v", cs, want)
	}
	want := Stats{BytesWritten: 1320, Syncs: 1, DirSyncs: 1, Cuts: 1, BytesDropped: 320, FilesDropped: 1}
	if got := m.fs.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}
