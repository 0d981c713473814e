package adr

// flushKind is how a region writes cache lines back toward its persistence
// domain. It is chosen once, in Open, from the CPU's features and the
// domain, and kept in the region: it is a fact of the machine and the
// mapping, not a tunable.
type flushKind uint8

const (
	// flushNone: the caches are in the persistence domain (eADR), so
	// Flush does nothing and Fence is an SFENCE that orders the stores.
	flushNone flushKind = iota
	// flushCLWB writes a line back and may keep it in the cache, so the
	// next read of a just-persisted record does not miss.
	flushCLWB
	// flushCLFLUSHOPT writes back and evicts; weakly ordered, so several
	// are in flight until the SFENCE.
	flushCLFLUSHOPT
	// flushCLFLUSH writes back and evicts, serialised with other CLFLUSHes:
	// the slowest, but every x86-64 has it.
	flushCLFLUSH
	// flushMsync: the kernel must help (a file mapped without MAP_SYNC);
	// Flush records the range and Fence calls msync(MS_SYNC) on it.
	flushMsync
	// flushPortable: no cache-line flush instruction is available to Go
	// on this architecture; Fence is a full memory barrier. Only emulated
	// regions, whose domain is none anyway, use it.
	flushPortable
)

// String is the name Info.Flush reports.
func (k flushKind) String() string {
	switch k {
	case flushNone:
		return "none"
	case flushCLWB:
		return "clwb"
	case flushCLFLUSHOPT:
		return "clflushopt"
	case flushCLFLUSH:
		return "clflush"
	case flushMsync:
		return "msync"
	case flushPortable:
		return "portable"
	}
	return "unknown"
}

// cpuFeatures are the cache-line flush instructions the CPU offers.
type cpuFeatures struct {
	clwb, clflushopt, clflush bool
}

// kinds lists the instructions present, best first.
func (f cpuFeatures) kinds() []flushKind {
	var ks []flushKind
	if f.clwb {
		ks = append(ks, flushCLWB)
	}
	if f.clflushopt {
		ks = append(ks, flushCLFLUSHOPT)
	}
	if f.clflush {
		ks = append(ks, flushCLFLUSH)
	}
	return ks
}

// chooseFlush picks how to flush a region in domain on a CPU with f:
// nothing under eADR, else the best instruction present (CLWB keeps the
// line cached; CLFLUSHOPT is unordered; CLFLUSH is serialising), else the
// portable barrier.
func chooseFlush(f cpuFeatures, domain string) flushKind {
	if domain == DomainCPUCache {
		return flushNone
	}
	if ks := f.kinds(); len(ks) > 0 {
		return ks[0]
	}
	return flushPortable
}

// lineSpan returns how many cache lines hold [off, off+n).
func lineSpan(off, n int) int {
	if n <= 0 {
		return 0
	}
	return (off+n-1)/LineSize - off/LineSize + 1
}
