package lossyfs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// refFile is the reference model of one file: what a reader sees now and
// what the disk holds.
type refFile struct{ now, durable []byte }

func (r *refFile) write(data []byte, off int64) {
	if end := off + int64(len(data)); end > int64(len(r.now)) {
		r.now = append(r.now, make([]byte, end-int64(len(r.now)))...)
	}
	copy(r.now[off:], data)
}

func (r *refFile) truncate(size int64) {
	if size <= int64(len(r.now)) {
		r.now = r.now[:size]
		return
	}
	r.now = append(r.now, make([]byte, size-int64(len(r.now)))...)
}

func (r *refFile) sync() { r.durable = bytes.Clone(r.now) }

// TestLossyFileOverlayMatchesModel drives the overlay with random writes,
// truncates, preallocations and syncs, checks every read against the
// reference model, then drops the overlay as a cut does and checks that
// the backing file holds exactly what the last sync made durable.
func TestLossyFileOverlayMatchesModel(t *testing.T) {
	tests := []struct {
		name    string
		seed    uint64
		initial int // bytes in the backing file before the overlay opens
		maxOff  int64
	}{
		{name: "empty file, small offsets", seed: 1, maxOff: 3 * pageSize},
		{name: "existing file, page straddling", seed: 2, initial: 5*pageSize + 123, maxOff: 8 * pageSize},
		{name: "existing file, far offsets", seed: 3, initial: 777, maxOff: 64 * pageSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, tc.seed))
			path := filepath.Join(t.TempDir(), "f")
			initial := make([]byte, tc.initial)
			for i := range initial {
				initial[i] = byte(rng.IntN(255) + 1)
			}
			if err := os.WriteFile(path, initial, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := openFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ref := &refFile{now: bytes.Clone(initial), durable: bytes.Clone(initial)}
			var unsynced int64
			for step := range 400 {
				switch op := rng.IntN(10); {
				case op < 5:
					data := make([]byte, 1+rng.IntN(3*pageSize))
					for i := range data {
						data[i] = byte(rng.IntN(255) + 1)
					}
					off := rng.Int64N(tc.maxOff)
					if err := f.writeAt(data, off); err != nil {
						t.Fatal(err)
					}
					ref.write(data, off)
					unsynced += int64(len(data))
				case op < 7:
					size := rng.Int64N(tc.maxOff)
					f.truncate(size)
					ref.truncate(size)
				case op < 8:
					off, length := rng.Int64N(tc.maxOff), 1+rng.Int64N(tc.maxOff)
					if err := f.allocate(off, length, 0); err != nil {
						t.Fatal(err)
					}
					if end := off + length; end > int64(len(ref.now)) {
						ref.truncate(end)
					}
				default:
					// Syncing the backing file too changes nothing the
					// model can see; do it every other time.
					n, err := f.sync(step%2 == 0)
					if err != nil {
						t.Fatal(err)
					}
					if n != unsynced {
						t.Fatalf("step %d: sync reported %d bytes, %d were written since the last", step, n, unsynced)
					}
					unsynced = 0
					ref.sync()
				}
				got := make([]byte, len(ref.now)+pageSize)
				n, err := f.readAt(got, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:n], ref.now) {
					t.Fatalf("step %d: read %d bytes, want %d; first difference at %d", step, n, len(ref.now), firstDiff(got[:n], ref.now))
				}
				// A read at an odd offset and length sees the same bytes.
				if len(ref.now) > 0 {
					off := rng.IntN(len(ref.now))
					part := make([]byte, rng.IntN(2*pageSize)+1)
					n, err := f.readAt(part, int64(off))
					if err != nil {
						t.Fatal(err)
					}
					if want := ref.now[off:min(len(ref.now), off+len(part))]; !bytes.Equal(part[:n], want) {
						t.Fatalf("step %d: read at %d differs from the model at %d", step, off, firstDiff(part[:n], want))
					}
				}
			}
			dirty, dropped := f.drop()
			if dropped != unsynced || dirty != (unsynced > 0 || !bytes.Equal(ref.now, ref.durable)) {
				t.Errorf("drop reported dirty=%v, %d bytes; %d bytes were unsynced", dirty, dropped, unsynced)
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(disk, ref.durable) {
				t.Fatalf("backing file has %d bytes, the last sync made %d durable; first difference at %d", len(disk), len(ref.durable), firstDiff(disk, ref.durable))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestLossyFileAllocateModes(t *testing.T) {
	tests := []struct {
		name     string
		mode     uint32
		wantSize int64
		wantErr  bool
	}{
		{name: "mode 0 extends", mode: 0, wantSize: 1 << 20},
		{name: "keep size", mode: unix.FALLOC_FL_KEEP_SIZE, wantSize: 10},
		{name: "punch hole is refused", mode: unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, wantSize: 10, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, make([]byte, 10), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := openFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.drop()
			err = f.allocate(0, 1<<20, tc.mode)
			if (err != nil) != tc.wantErr {
				t.Fatalf("allocate: %v, want error %v", err, tc.wantErr)
			}
			if got := f.currentSize(); got != tc.wantSize {
				t.Fatalf("size %d, want %d", got, tc.wantSize)
			}
		})
	}
}

func TestLossyOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{name: "immediate", opts: Options{Namespace: NamespaceImmediate}},
		{name: "dirsync", opts: Options{Namespace: NamespaceDirSync, SyncBacking: true}},
		{name: "unknown namespace", opts: Options{Namespace: Namespace(7)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestLossyNewRejectsBadBacking(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		backing string
	}{
		{name: "missing", backing: filepath.Join(t.TempDir(), "missing")},
		{name: "not a directory", backing: file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.backing, Options{}); !errors.Is(err, ErrOptions) {
				t.Fatalf("New(%s) = %v, want %v", tc.backing, err, ErrOptions)
			}
		})
	}
}
