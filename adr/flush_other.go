//go:build !amd64

package adr

import (
	"sync/atomic"
	"unsafe"
)

// detectCPU reports no flush instructions: Go's assembler has no cache
// clean-to-persistence instruction for this architecture wired up here
// (arm64's DC CVAP would be the one), so regions use msync or, for
// emulated ones, the portable barrier.
func detectCPU() cpuFeatures { return cpuFeatures{} }

// flushLines is never reached with an instruction kind off amd64, because
// chooseFlush returns none of them when detectCPU reports none.
func flushLines(k flushKind, p unsafe.Pointer, n uintptr) {}

// storeFence is a full barrier: Go's atomic read-modify-write operations are
// sequentially consistent, so every earlier store of this goroutine is
// ordered before every later one.
func storeFence() {
	var x atomic.Uint32
	x.Add(1)
}
