//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package adr

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openT opens cfg with the machine's CPU and a sysfs that has nothing, and
// closes the region at the end of the test unless the test did.
func openT(t *testing.T, cfg RegionConfig, env openEnv) Region {
	t.Helper()
	r, err := open(cfg, env)
	if err != nil {
		t.Fatalf("open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func machineEnv(t *testing.T) openEnv {
	return openEnv{sysfs: t.TempDir(), cpu: detectCPU()}
}

func TestEmulatedRegionKeepsContents(t *testing.T) {
	tests := []struct {
		name      string
		cpu       cpuFeatures
		wantFlush string
	}{
		{"machine cpu", detectCPU(), chooseFlush(detectCPU(), DomainNone).String()},
		{"no flush instruction", cpuFeatures{}, "portable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := openEnv{sysfs: t.TempDir(), cpu: tc.cpu}
			cfg := RegionConfig{Kind: KindEmulated, Path: filepath.Join(t.TempDir(), "r.pmem"), Size: 64 << 10}
			r := openT(t, cfg, env)
			info := r.Info()
			want := Info{Kind: KindEmulated, Path: cfg.Path, Size: cfg.Size, Flush: tc.wantFlush, Domain: DomainNone, Emulated: true}
			if info != want {
				t.Fatalf("Info = %+v, want %+v", info, want)
			}
			if len(r.Bytes()) != cfg.Size {
				t.Fatalf("len(Bytes) = %d", len(r.Bytes()))
			}
			msg := []byte("raft entry 42 in persistent memory")
			copy(r.Bytes()[100:], msg)
			copy(r.Bytes()[cfg.Size-len(msg):], msg)
			Persist(r, 100, len(msg))
			Persist(r, cfg.Size-len(msg), len(msg))
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close = %v, want ErrClosed", err)
			}

			// Size 0 takes the existing region's size.
			r2 := openT(t, RegionConfig{Kind: KindEmulated, Path: cfg.Path}, env)
			if got := r2.Info().Size; got != cfg.Size {
				t.Fatalf("reopened size %d, want %d", got, cfg.Size)
			}
			if !bytes.Equal(r2.Bytes()[100:100+len(msg)], msg) || !bytes.Equal(r2.Bytes()[cfg.Size-len(msg):], msg) {
				t.Fatal("contents lost across close and reopen")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.pmem")
	if err := os.WriteFile(existing, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pmem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "odd.pmem")
	if err := os.WriteFile(odd, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     RegionConfig
		is      error
		mention []string
	}{
		{"size mismatch names both sizes", RegionConfig{Kind: KindEmulated, Path: existing, Size: 4096}, ErrRegionConfig, []string{"size", "8192", "4096", existing}},
		{"size 0 and no file", RegionConfig{Kind: KindEmulated, Path: filepath.Join(dir, "missing.pmem")}, ErrRegionConfig, []string{"size"}},
		{"size 0 and empty file", RegionConfig{Kind: KindEmulated, Path: empty}, ErrRegionConfig, []string{"size", empty}},
		{"existing size not a page multiple", RegionConfig{Kind: KindEmulated, Path: odd}, ErrRegionConfig, []string{"size", "5000"}},
		{"directory", RegionConfig{Kind: KindEmulated, Path: dir, Size: 4096}, ErrMap, []string{dir, "is a directory"}},
		{"missing parent directory", RegionConfig{Kind: KindEmulated, Path: filepath.Join(dir, "no", "r.pmem"), Size: 4096}, ErrMap, []string{"no such file or directory"}},
		{"emulated without path", RegionConfig{Kind: KindEmulated, Size: 4096}, ErrRegionConfig, []string{"path", "Resolve"}},
		{"invalid config", RegionConfig{Kind: "pmem", Size: 4096}, ErrRegionConfig, []string{"kind"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := open(tc.cfg, machineEnv(t))
			if err == nil {
				_ = r.Close()
				t.Fatal("open succeeded")
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("open = %v, want %v", err, tc.is)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("open = %q, does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.pmem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed Open left its file behind: %v", err)
	}
}

func TestOpenLocksRegion(t *testing.T) {
	cfg := RegionConfig{Kind: KindEmulated, Path: filepath.Join(t.TempDir(), "r.pmem"), Size: 4096}
	r := openT(t, cfg, machineEnv(t))
	if r2, err := open(cfg, machineEnv(t)); err == nil {
		_ = r2.Close()
		t.Fatal("a second Open of a region in use succeeded")
	} else if !errors.Is(err, ErrMap) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open = %v, want ErrMap saying locked", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	openT(t, cfg, machineEnv(t)) // free again after Close
}

func TestMappedFlushBounds(t *testing.T) {
	cfg := RegionConfig{Kind: KindEmulated, Path: filepath.Join(t.TempDir(), "r.pmem"), Size: 4096}
	tests := []struct {
		name   string
		off, n int
		panics bool
	}{
		{"whole region", 0, 4096, false},
		{"empty at end", 4096, 0, false},
		{"past the end", 4000, 97, true},
		{"negative offset", -1, 2, true},
		{"negative length", 10, -1, true},
	}
	r := openT(t, cfg, machineEnv(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); (p != nil) != tc.panics {
					t.Fatalf("panic = %v, want panic %v", p, tc.panics)
				}
			}()
			r.Flush(tc.off, tc.n)
		})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("after close", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("Flush after Close did not panic")
			}
		}()
		r.Flush(0, 1)
	})
}

func TestOpenSimAndMediaLatency(t *testing.T) {
	tests := []struct {
		name string
		cfg  RegionConfig
		want Info
	}{
		{"sim", RegionConfig{Kind: KindSim, Size: 4096},
			Info{Kind: KindSim, Size: 4096, Flush: "sim", Domain: DomainMemoryController, Emulated: true}},
		{"sim with media latency", RegionConfig{Kind: KindSim, Size: 4096, MediaLatency: 100},
			Info{Kind: KindSim, Size: 4096, Flush: "sim", Domain: DomainMemoryController, Emulated: true, MediaLatency: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := openT(t, tc.cfg, machineEnv(t))
			if got := r.Info(); got != tc.want {
				t.Fatalf("Info = %+v, want %+v", got, tc.want)
			}
			Persist(r, 0, 64)
		})
	}
	t.Run("emulated with media latency", func(t *testing.T) {
		cfg := RegionConfig{Kind: KindEmulated, Path: filepath.Join(t.TempDir(), "r.pmem"), Size: 4096, MediaLatency: 200}
		r := openT(t, cfg, machineEnv(t))
		info := r.Info()
		if info.MediaLatency != 200 || !info.Emulated || info.Kind != KindEmulated {
			t.Fatalf("Info = %+v", info)
		}
		if _, ok := r.(interface{ Unwrap() Region }).Unwrap().(*mapped); !ok {
			t.Fatal("Unwrap does not reach the mapping")
		}
		Persist(r, 0, 4096)
	})
}

// TestDefaultEmulatedRegion opens a member's region where Resolve puts it
// (on /dev/shm on Linux) and removes it again, as whoever deletes the data
// directory must.
func TestDefaultEmulatedRegion(t *testing.T) {
	dataDir := t.TempDir()
	path := DefaultEmulatedPath(dataDir)
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s exists before the test", path)
	}
	t.Cleanup(func() { _ = os.Remove(path) }) // even if the test fails
	cfg := RegionConfig{Kind: KindEmulated, Size: 4096}.Resolve(dataDir)
	r := openT(t, cfg, machineEnv(t))
	if r.Info().Path != path {
		t.Fatalf("region at %s, want %s", r.Info().Path, path)
	}
	r.Bytes()[0] = 1
	Persist(r, 0, 1)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openT(t, RegionConfig{Kind: KindEmulated}.Resolve(dataDir), machineEnv(t))
	if r2.Bytes()[0] != 1 {
		t.Fatal("a restarted member does not find its region")
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second removal finds nothing, and says nothing
		if err := RemoveEmulatedRegion(dataDir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still exists: %v", path, err)
	}
}
