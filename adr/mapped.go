package adr

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// mapped is a Region over memory the kernel mapped: a devdax device, an
// fsdax file or an emulated (tmpfs) file. The OS-specific files build it;
// everything here is the same for all of them.
type mapped struct {
	mem   []byte
	info  Info
	flush flushKind

	// unmap releases the mapping and the file; set by the opener.
	unmap func() error
	// msync writes back the pages of mem[lo:hi] (flushMsync only).
	msync func(lo, hi int) error

	closed atomic.Bool

	// dirty is the range recorded by Flush for the next Fence when flush
	// is flushMsync. mu is held across the msync itself so that a Fence
	// returns only after the msync covering every earlier Flush has
	// finished, even if another goroutine's Fence started it.
	mu               sync.Mutex
	dirtyLo, dirtyHi int
	fenceErr         error // the first failed msync; sticky
}

// FenceChecker is the optional ability of a region whose Fence can fail:
// one that fences with msync (fsdax without MAP_SYNC). The Region contract
// gives Fence no error to return, so such a region keeps the first failure
// and a caller that acknowledges writes checks FenceErr after Fence. The
// error is sticky, as a failed fsync is: after a write-back error the
// kernel may have dropped the dirty pages, so no later msync proves that
// they reached the media.
type FenceChecker interface {
	// FenceErr returns the first error of a Fence, nil if none failed.
	FenceErr() error
}

// Bytes implements Region.
func (m *mapped) Bytes() []byte { return m.mem }

// Info implements Region.
func (m *mapped) Info() Info { return m.info }

// Flush implements Region. A range outside the region, or a Flush after
// Close, is a broken invariant of the caller and panics: the instructions
// would otherwise fault on, or flush, memory that is not the region.
func (m *mapped) Flush(off, n int) {
	m.check(off, n)
	if n == 0 {
		return
	}
	switch m.flush {
	case flushNone, flushPortable:
	case flushMsync:
		m.mu.Lock()
		if m.dirtyHi == m.dirtyLo {
			m.dirtyLo, m.dirtyHi = off, off+n
		} else {
			m.dirtyLo, m.dirtyHi = min(m.dirtyLo, off), max(m.dirtyHi, off+n)
		}
		m.mu.Unlock()
	default:
		flushLines(m.flush, unsafe.Pointer(&m.mem[off]), uintptr(n))
	}
}

// Fence implements Region. For an msync mapping it writes back the pages
// of every range flushed since the last Fence; a failure is kept for
// FenceErr.
func (m *mapped) Fence() {
	if m.closed.Load() {
		panic("adr: Fence on a closed region")
	}
	if m.flush != flushMsync {
		storeFence()
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	lo, hi := m.dirtyLo, m.dirtyHi
	m.dirtyLo, m.dirtyHi = 0, 0
	if lo == hi {
		return
	}
	if err := m.msync(lo, hi); err != nil && m.fenceErr == nil {
		m.fenceErr = fmt.Errorf("%w: msync %s [%d, %d): %w", ErrMap, m.info.Path, lo, hi, err)
	}
}

// FenceErr implements FenceChecker. Regions that fence with an
// instruction never fail.
func (m *mapped) FenceErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fenceErr
}

// Close implements Region.
func (m *mapped) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: region %s", ErrClosed, m.info.Path)
	}
	return m.unmap()
}

func (m *mapped) check(off, n int) {
	if m.closed.Load() {
		panic("adr: Flush on a closed region")
	}
	if off < 0 || n < 0 || off > len(m.mem)-n {
		panic(fmt.Sprintf("adr: Flush [%d, %d+%d) outside a region of %d bytes", off, off, n, len(m.mem)))
	}
}

// pageRange widens [lo, hi) to whole pages of size page, clamped to size:
// msync takes page-aligned addresses, and the mapping starts on a page.
func pageRange(lo, hi, page, size int) (int, int) {
	lo -= lo % page
	if r := hi % page; r != 0 {
		hi += page - r
	}
	return lo, min(hi, size)
}
