package adr

import (
	"bytes"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

func TestChooseFlush(t *testing.T) {
	all := cpuFeatures{clwb: true, clflushopt: true, clflush: true}
	tests := []struct {
		name   string
		cpu    cpuFeatures
		domain string
		want   flushKind
	}{
		{"adr prefers clwb", all, DomainMemoryController, flushCLWB},
		{"clflushopt without clwb", cpuFeatures{clflushopt: true, clflush: true}, DomainMemoryController, flushCLFLUSHOPT},
		{"clflush only", cpuFeatures{clflush: true}, DomainMemoryController, flushCLFLUSH},
		{"no instruction", cpuFeatures{}, DomainMemoryController, flushPortable},
		{"eadr flushes nothing", all, DomainCPUCache, flushNone},
		{"eadr without instructions", cpuFeatures{}, DomainCPUCache, flushNone},
		{"emulated still flushes", all, DomainNone, flushCLWB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chooseFlush(tc.cpu, tc.domain); got != tc.want {
				t.Fatalf("chooseFlush = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLineSpan(t *testing.T) {
	tests := []struct {
		name         string
		off, n, want int
	}{
		{"empty", 10, 0, 0},
		{"one byte", 63, 1, 1},
		{"one aligned line", 64, 64, 1},
		{"straddles", 60, 8, 2},
		{"three lines", 60, 130, 3},
		{"page", 0, 4096, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lineSpan(tc.off, tc.n); got != tc.want {
				t.Fatalf("lineSpan(%d, %d) = %d, want %d", tc.off, tc.n, got, tc.want)
			}
		})
	}
}

func TestPageRange(t *testing.T) {
	tests := []struct {
		name           string
		lo, hi, size   int
		wantLo, wantHi int
	}{
		{"inside one page", 10, 20, 16384, 0, 4096},
		{"aligned", 4096, 8192, 16384, 4096, 8192},
		{"straddles", 4000, 4200, 16384, 0, 8192},
		{"clamped to size", 12000, 12288, 12288, 8192, 12288},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := pageRange(tc.lo, tc.hi, 4096, tc.size)
			if lo != tc.wantLo || hi != tc.wantHi {
				t.Fatalf("pageRange = [%d, %d), want [%d, %d)", lo, hi, tc.wantLo, tc.wantHi)
			}
		})
	}
}

// TestFlushInstructions runs every flush instruction this CPU has over
// ranges of every alignment: a flush writes back, it must never change
// what the memory holds.
func TestFlushInstructions(t *testing.T) {
	kinds := detectCPU().kinds()
	if len(kinds) == 0 {
		t.Skipf("no cache-line flush instruction on %s", runtime.GOARCH)
	}
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 8192)
	rng.Read(buf)
	want := bytes.Clone(buf)
	ranges := []struct{ off, n int }{{0, 0}, {0, 1}, {1, 63}, {63, 2}, {64, 64}, {100, 3000}, {0, len(buf)}, {len(buf) - 1, 1}}
	for _, k := range kinds {
		t.Run("flush="+k.String(), func(t *testing.T) {
			for _, r := range ranges {
				flushLines(k, unsafe.Pointer(&buf[r.off]), uintptr(r.n))
				storeFence()
			}
			if !bytes.Equal(buf, want) {
				t.Fatal("flushing changed the buffer")
			}
			// A store after a flush and fence must be visible as usual.
			buf[5] ^= 0xff
			flushLines(k, unsafe.Pointer(&buf[0]), 64)
			storeFence()
			if buf[5] != want[5]^0xff {
				t.Fatal("store lost across a flush")
			}
			buf[5] = want[5]
		})
	}
}

// TestCPUIDMatchesProcCPUInfo checks the assembly CPUID against the flags
// the kernel derived from the same instruction.
func TestCPUIDMatchesProcCPUInfo(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs /proc/cpuinfo flags of linux/amd64")
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			for _, f := range strings.Fields(val) {
				flags[f] = true
			}
			break // the first processor's
		}
	}
	if len(flags) == 0 {
		t.Skip("no flags line in /proc/cpuinfo")
	}
	got := detectCPU()
	tests := []struct {
		name string
		have bool
	}{
		{"clwb", got.clwb},
		{"clflushopt", got.clflushopt},
		{"clflush", got.clflush},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.have != flags[tc.name] {
				t.Fatalf("CPUID says %s=%v, /proc/cpuinfo says %v", tc.name, tc.have, flags[tc.name])
			}
		})
	}
}
