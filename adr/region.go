package adr

import "time"

// LineSize is the cache-line size the persistence primitives work in. Every
// x86-64 part with CLFLUSH reports 64 (CPUID leaf 1 EBX[15:8] × 8); the
// ring's layout is aligned to it so that no two independently published
// fields share a line.
const LineSize = 64

// Region is a range of memory whose contents are meant to survive a power
// loss once they have been flushed and fenced.
//
// Stores into Bytes are ordinary CPU stores: they land in the CPU cache and
// reach the persistence domain only after Flush of the lines that hold them
// and a Fence after that Flush. Aligned 8-byte stores are atomic with
// respect to a power loss (the only atomicity x86 gives persistent memory);
// nothing larger is.
//
// Concurrency: a Region does not order concurrent stores for its callers.
// Flush and Fence may be called from any goroutine, but a Fence orders only
// the flushes of the calling thread, so a caller that publishes from
// several goroutines must serialise its publish steps (the ring does).
type Region interface {
	// Bytes is the mapped region. Its length is Info().Size.
	Bytes() []byte
	// Flush starts writing back the cache lines that hold
	// Bytes()[off:off+n] toward the persistence domain. Until a Fence
	// returns nothing is promised, not even order between the lines.
	Flush(off, n int)
	// Fence returns once every earlier Flush of this thread has reached
	// the persistence domain (SFENCE after CLWB/CLFLUSHOPT; msync for a
	// mapping that needs the kernel's help).
	Fence()
	// Info describes the region and how it is made persistent.
	Info() Info
	// Close unmaps the region. Bytes must not be used afterwards.
	Close() error
}

// Persist flushes Bytes()[off:off+n] and fences: when it returns the range
// is in the region's persistence domain.
func Persist(r Region, off, n int) {
	r.Flush(off, n)
	r.Fence()
}

// Kinds of region.
const (
	KindDevDax   = "devdax"   // a device DAX character device, /dev/daxN.M
	KindFSDax    = "fsdax"    // a file on a DAX file system, MAP_SYNC
	KindEmulated = "emulated" // a file on an ordinary (tmpfs) file system
	KindSim      = "sim"      // the power-loss simulator, for tests
)

// Persistence domains, as the kernel reports them in
// /sys/bus/nd/devices/regionN/persistence_domain.
const (
	// DomainMemoryController is ADR: the memory controller's write-pending
	// queues are drained on power loss, the CPU caches are not, so every
	// store must be flushed and fenced.
	DomainMemoryController = "memory_controller"
	// DomainCPUCache is eADR: the caches are drained too, so a fence alone
	// orders persistence and flushes are skipped.
	DomainCPUCache = "cpu_cache"
	// DomainNone is memory that does not survive a power loss at all (the
	// emulated region: tmpfs survives a process crash only).
	DomainNone = "none"
)

// Info describes a region: where it lives and what makes it persistent.
// Results and Stats report it so that a figure says what it was measured on.
type Info struct {
	Kind string `json:"kind"`
	Path string `json:"path,omitempty"`
	Size int    `json:"size"`
	// Flush is the instruction (or mechanism) Flush uses: "clwb",
	// "clflushopt", "clflush", "msync", "none" (eADR: caches are in the
	// persistence domain) or "portable" (no cache-line flush instruction
	// on this architecture; a full memory barrier stands in).
	Flush string `json:"flush"`
	// Domain is one of the Domain constants.
	Domain string `json:"persistence_domain"`
	// Emulated says that the region is not persistent memory: figures
	// measured on it are labelled emulated.
	Emulated bool `json:"emulated"`
	// MediaLatency is the write latency added per flushed line to model
	// slower media (0: none). A region with it is emulated too.
	MediaLatency time.Duration `json:"media_latency_ns,omitempty"`
	// Warning explains a fallback taken while mapping (e.g. MAP_SYNC
	// refused, msync used instead); empty when there was none.
	Warning string `json:"warning,omitempty"`
}
