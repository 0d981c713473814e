package adrlog

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/adr"
)

// RegionProbe is what mapping a region the way this backend maps its own
// shows about a directory, and what persisting a record's cache line there
// costs.
type RegionProbe struct {
	// Kind is the region kind mapped (fsdax when the kernel took
	// MAP_SYNC, emulated otherwise), Flush the instruction persisting
	// uses, Emulated whether the region is only DRAM, and Warning any
	// fallback taken while mapping.
	Kind     string
	Flush    string
	Emulated bool
	Warning  string
	// MapSync reports whether the kernel accepted MAP_SYNC for a file in
	// the directory: it is on a DAX file system.
	MapSync bool
	// Flushes is the number of timed flush+fence pairs; P50Ns, P99Ns and
	// MaxNs their latency in nanoseconds.
	Flushes             int64
	P50Ns, P99Ns, MaxNs float64
}

// ProbeRegion maps a 1 MiB file in dir as the backend maps its region
// (region kind auto: MAP_SYNC if the file system is DAX, else emulated),
// then times n flushes of one cache line each followed by a fence, the
// unit the ring persists a record with. The file is removed.
func ProbeRegion(dir string, n int) (RegionProbe, error) {
	path := filepath.Join(dir, "pmem-probe")
	reg, err := adr.Open(adr.RegionConfig{Kind: adr.KindAuto, Path: path, Size: 1 << 20})
	if err != nil {
		return RegionProbe{}, err
	}
	info := reg.Info()
	p := RegionProbe{Kind: info.Kind, Flush: info.Flush, Emulated: info.Emulated, Warning: info.Warning, MapSync: info.Kind == adr.KindFSDax}
	// 1 ns to a minute at three significant digits.
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	mem := reg.Bytes()
	lines := len(mem) / adr.LineSize
	for i := range n {
		off := (i % lines) * adr.LineSize
		mem[off] = byte(i)
		t0 := time.Now()
		adr.Persist(reg, off, adr.LineSize)
		_ = h.RecordValue(int64(time.Since(t0)))
	}
	var ferr error
	if fc, ok := reg.(adr.FenceChecker); ok {
		ferr = fc.FenceErr()
	}
	err = errors.Join(ferr, reg.Close(), os.Remove(path))
	p.Flushes = h.TotalCount()
	p.P50Ns, p.P99Ns, p.MaxNs = float64(h.ValueAtQuantile(50)), float64(h.ValueAtQuantile(99)), float64(h.Max())
	return p, err
}

// DurableDomain reports whether an nvdimm region's persistence_domain
// (from sysfs) keeps flushed cache lines across a power loss: the memory
// controller's (ADR) or the CPU caches' (eADR).
func DurableDomain(domain string) bool {
	return domain == adr.DomainMemoryController || domain == adr.DomainCPUCache
}

// CacheDomain reports whether the persistence domain includes the CPU
// caches (eADR), so that persisting needs a fence but no flush.
func CacheDomain(domain string) bool { return domain == adr.DomainCPUCache }
