package lossyfs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLossyMmapSeesWrites maps a file read-only and shared, as bbolt maps its
// database, and checks that the mapping shows every write made with
// pwrite through the mount, whole pages and parts of pages, before and
// after syncs, and that a fresh mapping after a remount without a power
// cut still shows the volatile writes.
//
// The mapping lives in a child process: a goroutine of the process that
// serves the mount, faulting on a page of it, blocks its thread where the
// Go scheduler cannot see, and a garbage collection waiting for that
// thread stops the server that would answer the fault.
func TestLossyMmapSeesWrites(t *testing.T) {
	m := mountFS(t, Options{})
	const size = 4 * pageSize
	want := make([]byte, size)
	f, err := os.OpenFile(m.path("db"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	write := func(data []byte, off int) {
		t.Helper()
		if _, err := f.WriteAt(data, int64(off)); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], data)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	write(bytes.Repeat([]byte{'a'}, pageSize), 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// No descriptor on the mount may be open while the child is forked:
	// its close-on-exec would need an answer from this process.
	f.Close()
	r := startMmapReader(t, m.path("db"), size)
	if f, err = os.OpenFile(m.path("db"), os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	check := func(r *mmapReader, when string) {
		t.Helper()
		if got := r.read(t); !bytes.Equal(got, want) {
			t.Fatalf("%s: the mapping differs from what was written at byte %d", when, firstDiff(got, want))
		}
	}
	check(r, "after a synced write")
	write(bytes.Repeat([]byte{'b'}, pageSize), pageSize)
	check(r, "after a whole-page write")
	write([]byte("partial"), 2*pageSize+100)
	check(r, "after a write inside a page")
	write([]byte("straddles"), 3*pageSize-4)
	check(r, "after a write across pages")
	write([]byte("over the synced page"), 10)
	check(r, "after overwriting synced data")
	r.close(t)
	f.Close()

	if err := m.fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := m.fs.Mount(m.dir); err != nil {
		t.Fatal(err)
	}
	r = startMmapReader(t, m.path("db"), size)
	check(r, "after a remount without a power cut")
	r.close(t)
}

// mmapReaderEnv, set to "path:size", makes the test binary the child of
// TestLossyMmapSeesWrites: it maps size bytes of path read-only and shared and
// answers every line on stdin with the mapping's bytes in hex.
const mmapReaderEnv = "LOSSYFS_MMAP_READER"

func TestMain(m *testing.M) {
	if arg := os.Getenv(mmapReaderEnv); arg != "" {
		os.Exit(serveMmapReads(arg))
	}
	os.Exit(m.Run())
}

// serveMmapReads is the child's side of mmapReader.
func serveMmapReads(arg string) int {
	path, sizeText, _ := strings.Cut(arg, ":")
	size, err := strconv.Atoi(sizeText)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", mmapReaderEnv, arg)
		return 2
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		return 1
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(hex.EncodeToString(mem))
	}
	return 0
}

// mmapReader is a child process holding a mapping of a file on the mount.
type mmapReader struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startMmapReader(t *testing.T, path string, size int) *mmapReader {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", mmapReaderEnv, path, size))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &mmapReader{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 4*size)}
	t.Cleanup(func() {
		r.in.Close()
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	return r
}

// read returns what the child's mapping holds now.
func (r *mmapReader) read(t *testing.T) []byte {
	t.Helper()
	if _, err := io.WriteString(r.in, "read\n"); err != nil {
		t.Fatal(err)
	}
	line, err := r.out.ReadString('\n')
	if err != nil {
		t.Fatalf("mmap reader: %v", err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// close ends the child, unmapping the file.
func (r *mmapReader) close(t *testing.T) {
	t.Helper()
	r.in.Close()
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("mmap reader: %v", err)
	}
}

// TestLossyReadYourWritesThroughMount writes, truncates and syncs at random
// through the mount with two descriptors, checks each read against a
// model, then cuts the power and checks the last synced contents.
func TestLossyReadYourWritesThroughMount(t *testing.T) {
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

// TestLossyPowerCutStopsTheMount checks that after a cut every operation on the
// mount fails with EIO until it is mounted again.
func TestLossyPowerCutStopsTheMount(t *testing.T) {
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

// TestLossyStats checks the counters: bytes written, syncs, and what a cut
// dropped.
func TestLossyStats(t *testing.T) {
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
