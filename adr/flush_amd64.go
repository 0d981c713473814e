package adr

import "unsafe"

// The persistence primitives are Go assembly (flush_amd64.s) because Go has
// no intrinsics for them. Each flushes every 64-byte line that overlaps
// [p, p+n); n may be 0. They touch no Go pointers other than p, never grow
// the stack and may be called on the Go heap as well as on a mapping.

//go:noescape
func clwbLines(p unsafe.Pointer, n uintptr)

//go:noescape
func clflushoptLines(p unsafe.Pointer, n uintptr)

//go:noescape
func clflushLines(p unsafe.Pointer, n uintptr)

// sfence orders every earlier store and CLWB/CLFLUSHOPT of this thread
// before every later store: after it the flushed lines are in the
// persistence domain (ADR: the memory controller's write-pending queues).
func sfence()

// cpuid executes CPUID with EAX=leaf, ECX=sub.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// detectCPU reads the flush instructions from CPUID: leaf 1 EDX bit 19 is
// CLFLUSH; leaf 7 subleaf 0 EBX bit 23 is CLFLUSHOPT and bit 24 is CLWB.
// golang.org/x/sys/cpu does not report these. CPUID may trap to the
// hypervisor in a VM (microseconds), so Open calls this once per region,
// never on the hot path.
func detectCPU() cpuFeatures {
	maxLeaf, _, _, _ := cpuid(0, 0)
	var f cpuFeatures
	if maxLeaf >= 1 {
		_, _, _, edx := cpuid(1, 0)
		f.clflush = edx&(1<<19) != 0
	}
	if maxLeaf >= 7 {
		_, ebx, _, _ := cpuid(7, 0)
		f.clflushopt = ebx&(1<<23) != 0
		f.clwb = ebx&(1<<24) != 0
	}
	return f
}

// flushLines flushes the lines of [p, p+n) with k. Kinds that are not an
// instruction (none, msync, portable) are handled by the region, not here.
func flushLines(k flushKind, p unsafe.Pointer, n uintptr) {
	switch k {
	case flushCLWB:
		clwbLines(p, n)
	case flushCLFLUSHOPT:
		clflushoptLines(p, n)
	case flushCLFLUSH:
		clflushLines(p, n)
	}
}

// storeFence is the fence of the instruction kinds: SFENCE. CLFLUSH is
// ordered by itself, but a fence after it costs little and keeps one path.
func storeFence() { sfence() }
