package adr

import (
	"sync/atomic"
	"time"
)

// WithMediaLatency returns r with perLine of write latency added for every
// cache line flushed, to model persistent media slower than the DRAM an
// emulated region lives in (Optane DC PMM wrote a line in a few hundred
// nanoseconds more than DRAM; a memmap'ed /dev/pmem0 adds nothing). Flush
// counts the lines; Fence, after r's own fence, waits perLine times the
// lines flushed since the previous Fence, so a record that spans four
// lines costs four times one that fits in a line, as it would on media that
// writes lines one by one.
//
// The wait spins on the monotonic clock: time.Sleep rounds microseconds up
// to the scheduler's tick. Waits longer than a couple of milliseconds sleep
// for all but the last one, so a large modelled latency does not burn a
// core for its whole length.
//
// The count is shared by all goroutines, not kept per thread as fences
// are: one Fence pays for every line flushed before it, whoever flushed
// them. Callers that publish from several goroutines serialise their
// publish steps (the Region contract), so the total is the same.
//
// Info of the result reports MediaLatency and Emulated; FenceErr and
// Unwrap reach r.
func WithMediaLatency(r Region, perLine time.Duration) Region {
	return &slowMedia{Region: r, perLine: perLine, wait: spinFor}
}

type slowMedia struct {
	Region
	perLine time.Duration
	pending atomic.Int64 // lines flushed since the last Fence
	wait    func(time.Duration)
}

// Flush implements Region.
func (s *slowMedia) Flush(off, n int) {
	s.Region.Flush(off, n)
	s.pending.Add(int64(lineSpan(off, n)))
}

// Fence implements Region.
func (s *slowMedia) Fence() {
	s.Region.Fence()
	if lines := s.pending.Swap(0); lines > 0 {
		s.wait(time.Duration(lines) * s.perLine)
	}
}

// Info implements Region.
func (s *slowMedia) Info() Info {
	i := s.Region.Info()
	i.MediaLatency = s.perLine
	i.Emulated = true
	return i
}

// FenceErr implements FenceChecker for the region underneath; nil when it
// cannot fail.
func (s *slowMedia) FenceErr() error {
	if fc, ok := s.Region.(FenceChecker); ok {
		return fc.FenceErr()
	}
	return nil
}

// Unwrap returns the region underneath, e.g. the *Sim of a crash test.
func (s *slowMedia) Unwrap() Region { return s.Region }

// spinFor returns after d has passed on the monotonic clock.
func spinFor(d time.Duration) {
	deadline := time.Now().Add(d)
	if d > 2*time.Millisecond {
		time.Sleep(d - time.Millisecond)
	}
	for time.Now().Before(deadline) {
	}
}
