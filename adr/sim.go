package adr

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"slices"
	"sync"
)

// Sim is a Region in ordinary memory that models what a power loss leaves
// of persistent memory behind an ADR platform. It keeps three views of every
// cache line: the CPU's (Bytes, where stores land), the copy taken by the
// last Flush that no Fence has completed yet, and the persisted one, which
// a Fence updates from the flushed copies. Crash returns an image a power
// loss at that instant could leave: the persisted view, plus, 8-byte word
// by word, a random share of what was flushed but not fenced and of what
// was stored but not flushed (the cache may write back any dirty line at
// any time, and a line written back in part is torn only at word
// boundaries).
//
// Tests pick crash instants with SetHook, which runs before every Flush
// and Fence takes effect. Crash reads Bytes, so it must not run while
// another goroutine stores into the region: call it from the hook of the
// goroutine that publishes, or with that goroutine stopped.
type Sim struct {
	mem []byte

	mu        sync.Mutex
	persisted []byte
	flushed   map[int][]byte // line number -> copy taken by Flush
	ops       uint64
	hook      func(SimOp)
	closed    bool
}

// SimOp is a Flush or a Fence about to take effect, as the hook sees it.
type SimOp struct {
	N     uint64 // how many Flush and Fence calls came before this one
	Fence bool   // a Fence (else a Flush)
	Off   int    // of a Flush
	Len   int    // of a Flush
}

// NewSim returns a zeroed simulated region of size bytes (a multiple of
// LineSize).
func NewSim(size int) *Sim {
	if size <= 0 || size%LineSize != 0 {
		panic("adr: simulated region size must be a positive multiple of LineSize")
	}
	return &Sim{mem: make([]byte, size), persisted: make([]byte, size), flushed: map[int][]byte{}}
}

// SimFrom returns a simulated region that starts from img, fully
// persisted: the region a restart after a crash maps again.
func SimFrom(img []byte) *Sim {
	s := NewSim(len(img))
	copy(s.mem, img)
	copy(s.persisted, img)
	return s
}

// SetHook makes h run before every later Flush and Fence takes effect
// (nil removes it). h runs on the goroutine that called Flush or Fence,
// without the simulator's lock held, so it may call Crash.
func (s *Sim) SetHook(h func(SimOp)) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// Ops returns how many Flush and Fence calls the region has seen.
func (s *Sim) Ops() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops
}

// Bytes implements Region.
func (s *Sim) Bytes() []byte { return s.mem }

// Flush implements Region: it copies the lines that hold [off, off+n) as
// they are now; a later Fence persists those copies.
func (s *Sim) Flush(off, n int) {
	s.mu.Lock()
	h := s.hook
	op := SimOp{N: s.ops, Off: off, Len: n}
	s.mu.Unlock()
	if h != nil {
		h(op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	if n <= 0 {
		return
	}
	for l := off / LineSize; l <= (off+n-1)/LineSize; l++ {
		c := s.flushed[l]
		if c == nil {
			c = make([]byte, LineSize)
			s.flushed[l] = c
		}
		copy(c, s.mem[l*LineSize:(l+1)*LineSize])
	}
}

// Fence implements Region: every line flushed since the last Fence is
// persisted as it was when it was flushed.
func (s *Sim) Fence() {
	s.mu.Lock()
	h := s.hook
	op := SimOp{N: s.ops, Fence: true}
	s.mu.Unlock()
	if h != nil {
		h(op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	for l, c := range s.flushed {
		copy(s.persisted[l*LineSize:], c)
		delete(s.flushed, l)
	}
}

// Crash returns an image of the region after a power loss now. Each 8-byte
// word that differs from its persisted value in a flushed-but-unfenced copy
// or in the CPU's view takes that newer value with probability keep (0:
// only what was fenced survives; 1: everything stored survives).
func (s *Sim) Crash(rng *rand.Rand, keep float64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := bytes.Clone(s.persisted)
	for l := 0; l < len(img)/LineSize; l++ {
		lo, hi := l*LineSize, (l+1)*LineSize
		f := s.flushed[l]
		if f == nil && bytes.Equal(s.mem[lo:hi], img[lo:hi]) {
			continue
		}
		for w := lo; w < hi; w += 8 {
			old := binary.LittleEndian.Uint64(img[w:])
			cands := make([]uint64, 0, 2)
			if f != nil {
				if v := binary.LittleEndian.Uint64(f[w-lo:]); v != old {
					cands = append(cands, v)
				}
			}
			if v := binary.LittleEndian.Uint64(s.mem[w:]); v != old {
				cands = append(cands, v)
			}
			if len(cands) > 0 && rng.Float64() < keep {
				binary.LittleEndian.PutUint64(img[w:], cands[rng.Intn(len(cands))])
			}
		}
	}
	return img
}

// CrashFenced returns an image a power loss now could leave, made from
// what Flush and Fence have reached alone: the persisted view and, 8-byte
// word by word, a random share (keep) of the lines flushed but not fenced;
// no store that no Flush took survives (the cache never wrote it back, a
// possible outcome). It does not read the CPU's view, so unlike Crash it
// may run while another goroutine stores into the region: at any instant,
// a disk sync of the region's owner, say.
func (s *Sim) CrashFenced(rng *rand.Rand, keep float64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := bytes.Clone(s.persisted)
	lines := make([]int, 0, len(s.flushed))
	for l := range s.flushed {
		lines = append(lines, l)
	}
	slices.Sort(lines) // map order would make a seeded rng irreproducible
	for _, l := range lines {
		f := s.flushed[l]
		for w := 0; w < LineSize; w += 8 {
			if rng.Float64() < keep {
				copy(img[l*LineSize+w:], f[w:w+8])
			}
		}
	}
	return img
}

// Info implements Region.
func (s *Sim) Info() Info {
	return Info{Kind: KindSim, Size: len(s.mem), Flush: "sim", Domain: DomainMemoryController, Emulated: true}
}

// Close implements Region.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	return nil
}
