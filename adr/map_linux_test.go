package adr

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFSDaxFallsBackToMsync maps a file on the test's temporary directory,
// which is not DAX on a test machine: the kernel refuses MAP_SYNC and the
// region fences with msync, saying so in Info.Warning.
func TestFSDaxFallsBackToMsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.pmem")
	cfg := RegionConfig{Kind: KindFSDax, Path: path, Size: 64 << 10}
	r := openT(t, cfg, machineEnv(t))
	info := r.Info()
	if info.Flush != "msync" {
		t.Skipf("%s is on a DAX file system (flush %s): no fallback to test", path, info.Flush)
	}
	if info.Kind != KindFSDax || info.Emulated || !strings.Contains(info.Warning, "MAP_SYNC") {
		t.Fatalf("Info = %+v, want fsdax with a MAP_SYNC warning", info)
	}
	m := r.(*mapped)
	msg := []byte("entry")
	copy(r.Bytes()[5000:], msg)
	copy(r.Bytes()[40000:], msg)
	r.Flush(5000, len(msg))
	r.Flush(40000, len(msg))
	m.mu.Lock()
	lo, hi := m.dirtyLo, m.dirtyHi
	m.mu.Unlock()
	if lo != 5000 || hi != 40000+len(msg) {
		t.Fatalf("dirty range [%d, %d), want [5000, %d)", lo, hi, 40000+len(msg))
	}
	r.Fence()
	if err := r.(FenceChecker).FenceErr(); err != nil {
		t.Fatal(err)
	}
	if m.dirtyLo != 0 || m.dirtyHi != 0 {
		t.Fatal("Fence left a dirty range")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// msync wrote the pages to the file: a plain read sees them.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[5000:5000+len(msg)], msg) || !bytes.Equal(b[40000:40000+len(msg)], msg) {
		t.Fatal("file does not hold what was persisted")
	}
	r2 := openT(t, RegionConfig{Kind: KindFSDax, Path: path, Size: cfg.Size}, machineEnv(t))
	if !bytes.Equal(r2.Bytes()[40000:40000+len(msg)], msg) {
		t.Fatal("contents lost across reopen")
	}
}

func TestAutoKind(t *testing.T) {
	t.Run("ordinary file is emulated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "log.pmem")
		r := openT(t, RegionConfig{Path: path, Size: 8192}, machineEnv(t))
		info := r.Info()
		if info.Kind == KindFSDax {
			t.Skipf("%s is on a DAX file system", path)
		}
		if info.Kind != KindEmulated || !info.Emulated || info.Domain != DomainNone || !strings.Contains(info.Warning, "MAP_SYNC") {
			t.Fatalf("Info = %+v, want emulated with a MAP_SYNC warning", info)
		}
	})
	t.Run("character device is devdax", func(t *testing.T) {
		major, minor := devZero(t)
		sysfs := fakeSysfs(t, "char", major, minor, "dax0.0", "memory_controller", map[string]string{"size": "8192"})
		r := openT(t, RegionConfig{Kind: KindAuto, Path: "/dev/zero"}, openEnv{sysfs: sysfs, cpu: detectCPU()})
		if got := r.Info().Kind; got != KindDevDax {
			t.Fatalf("kind %q, want devdax", got)
		}
	})
}

// devZero returns the device number of /dev/zero, a character device that
// accepts a shared mapping: it stands in for a devdax device, with a fake
// sysfs describing it as one.
func devZero(t *testing.T) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/dev/zero", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Skipf("no /dev/zero character device: %v", err)
	}
	return unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))
}

func TestDevDax(t *testing.T) {
	major, minor := devZero(t)
	all := cpuFeatures{clwb: true, clflushopt: true, clflush: true}
	tests := []struct {
		name    string
		domain  string // "-": not reported
		attrs   map[string]string
		cpu     cpuFeatures
		size    int
		want    Info // Path is /dev/zero
		warns   bool
		errIs   error
		mention string
	}{
		{"adr, size from sysfs", "memory_controller", map[string]string{"size": "8192"}, all, 0,
			Info{Kind: KindDevDax, Size: 8192, Flush: "clwb", Domain: DomainMemoryController}, false, nil, ""},
		{"eadr skips flushes", "cpu_cache", map[string]string{"size": "8192"}, all, 4096,
			Info{Kind: KindDevDax, Size: 4096, Flush: "none", Domain: DomainCPUCache}, false, nil, ""},
		{"eadr needs no instruction", "cpu_cache", map[string]string{"size": "8192"}, cpuFeatures{}, 0,
			Info{Kind: KindDevDax, Size: 8192, Flush: "none", Domain: DomainCPUCache}, false, nil, ""},
		{"domain not reported assumes adr", "-", map[string]string{"size": "8192"}, all, 0,
			Info{Kind: KindDevDax, Size: 8192, Flush: "clwb", Domain: DomainMemoryController}, true, nil, ""},
		{"alignment respected", "memory_controller", map[string]string{"size": "16384", "align": "8192"}, all, 8192,
			Info{Kind: KindDevDax, Size: 8192, Flush: "clwb", Domain: DomainMemoryController}, false, nil, ""},
		{"larger than device", "memory_controller", map[string]string{"size": "8192"}, all, 16384,
			Info{}, false, ErrRegionConfig, "larger than devdax"},
		{"not aligned", "memory_controller", map[string]string{"size": "16384", "align": "8192"}, all, 4096,
			Info{}, false, ErrRegionConfig, "alignment 8192"},
		{"size unknown", "memory_controller", nil, all, 0,
			Info{}, false, ErrRegionConfig, "unreadable"},
		{"adr without flush instruction", "memory_controller", map[string]string{"size": "8192"}, cpuFeatures{}, 0,
			Info{}, false, ErrMap, "no cache-line flush instruction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := openEnv{sysfs: fakeSysfs(t, "char", major, minor, "dax0.0", tc.domain, tc.attrs), cpu: tc.cpu}
			cfg := RegionConfig{Kind: KindDevDax, Path: "/dev/zero", Size: tc.size}
			r, err := open(cfg, env)
			if tc.errIs != nil {
				if err == nil {
					_ = r.Close()
					t.Fatal("open succeeded")
				}
				if !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.mention) {
					t.Fatalf("open = %v, want %v mentioning %q", err, tc.errIs, tc.mention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			}()
			got := r.Info()
			if (got.Warning != "") != tc.warns {
				t.Fatalf("Warning = %q, want warning %v", got.Warning, tc.warns)
			}
			got.Warning = ""
			tc.want.Path = "/dev/zero"
			if got != tc.want {
				t.Fatalf("Info = %+v, want %+v", got, tc.want)
			}
			r.Bytes()[got.Size-1] = 7
			Persist(r, got.Size-64, 64)
		})
	}
}

func TestDevDaxErrors(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "dax0.0")
	if err := os.WriteFile(regular, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		is      error
		mention string
	}{
		{"nonexistent device", filepath.Join(t.TempDir(), "dax9.9"), ErrMap, "no such file or directory"},
		{"regular file", regular, ErrRegionConfig, "not a character device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := open(RegionConfig{Kind: KindDevDax, Path: tc.path, Size: 4096}, machineEnv(t))
			if err == nil {
				_ = r.Close()
				t.Fatal("open succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "devdax") {
				t.Fatalf("open = %v, want %v mentioning devdax and %q", err, tc.is, tc.mention)
			}
		})
	}
}
