package adr

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The ring's layout in a region; doc.go has the byte diagram and the field
// table. HEAD and TAIL get a cache line each, apart from the superblock
// and from each other, so that flushing one never writes back a half-made
// store to another.
const (
	ringMagic   = 0x31474e4952524441 // "ADRRING1", little-endian
	ringVersion = 1

	superOff    = 0
	superLen    = 36 // magic, version, reserved, data offset, data size, crc
	headOff     = 1 * LineSize
	tailOff     = 2 * LineSize
	ringDataOff = 3 * LineSize

	recHeaderLen = 16
	recAlign     = 8
	// padFlag marks a padding record in the length field: it fills the
	// data area from its offset to the end, and the next record starts at
	// the beginning of the data area.
	padFlag = 1 << 31
	// minDataLen keeps a ring useful: at least a few records of a few
	// hundred bytes.
	minDataLen = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// step names one flush or fence of the ring's protocols, numbered as in
// doc.go. Tests skip one at a time to show that each is needed.
type step int

const (
	stepNone         step = iota
	stepFlushPadding      // 1: flush the padding record that fills the end of the data area
	stepFlushRecord       // 2: flush the record (header and payload)
	stepFenceRecord       // 3: fence: the record is persistent before TAIL moves
	stepFlushTail         // 4: flush the new TAIL
	stepFenceTail         // 5: fence: TAIL is persistent before Append returns
	stepFlushHead         // 6: flush the new HEAD
	stepFenceHead         // 7: fence: HEAD is persistent before the space is reused
	numSteps
)

func (s step) String() string {
	return [...]string{"none", "flush padding", "flush record", "fence record",
		"flush tail", "fence tail", "flush head", "fence head"}[s]
}

// Ring is a crash-consistent ring of records in a Region: Append publishes
// a record with one atomic store of TAIL after the record itself is
// persistent, Release gives space back by moving HEAD, and OpenRing
// recovers exactly the records between HEAD and TAIL, refusing a ring in
// which one of them is damaged.
//
// Offsets are logical: HEAD and TAIL count bytes since the ring was
// formatted and never wrap (a record's place in the data area is its
// offset modulo the data size), so an empty ring (HEAD = TAIL) and a full
// one (TAIL - HEAD = data size) are never confused. A record's sequence
// number is its logical offset, unique for the life of the ring, which is
// what lets recovery tell a record of this lap from a stale one of an
// earlier lap left in the same place.
//
// Every store into the region and every Flush and Fence happen under the
// ring's mutex, so a power-loss simulator's hook sees the region in a
// state the ring's own goroutine produced. Append and Release may be
// called from different goroutines.
type Ring struct {
	reg  Region
	mem  []byte // the whole region
	data []byte // the data area
	size uint64 // len(data)

	mu         sync.Mutex
	head, tail uint64 // as last stored; the persistent copies are in mem
	closed     bool
	// skip is set only by tests in this package: the protocol step to
	// leave out, to prove that the power-loss test notices.
	skip step
}

// OpenRing opens the ring kept in r: a region whose superblock has no
// magic number is formatted as an empty ring; otherwise the ring is
// recovered and every record between HEAD and TAIL is validated. A
// damaged record there is an error wrapping ErrRingCorrupt that names its
// offset, never a shorter ring. The ring does not own r: closing it is
// the caller's job, after Close.
func OpenRing(r Region) (*Ring, error) {
	mem := r.Bytes()
	if len(mem) < ringDataOff+minDataLen {
		return nil, fmt.Errorf("%w: region of %d bytes is smaller than the ring's minimum %d", ErrRingFormat, len(mem), ringDataOff+minDataLen)
	}
	size := uint64(len(mem)-ringDataOff) &^ (recAlign - 1)
	g := &Ring{reg: r, mem: mem, data: mem[ringDataOff : ringDataOff+int(size)], size: size}
	g.mu.Lock()
	defer g.mu.Unlock()
	if binary.LittleEndian.Uint64(mem[superOff:]) != ringMagic {
		g.formatLocked()
		return g, nil
	}
	if err := g.checkSuperLocked(); err != nil {
		return nil, err
	}
	g.head, g.tail = g.load(headOff), g.load(tailOff)
	if err := g.scanLocked(nil); err != nil {
		return nil, err
	}
	return g, nil
}

// formatLocked writes an empty ring: everything but the magic number,
// persisted, then the magic number, persisted. A crash before the second
// persist completes leaves a region without the magic (formatted again on
// the next open, nothing having been acknowledged) or with it and every
// other field already persistent.
func (g *Ring) formatLocked() {
	s := g.mem[superOff:]
	binary.LittleEndian.PutUint32(s[8:], ringVersion)
	binary.LittleEndian.PutUint32(s[12:], 0)
	binary.LittleEndian.PutUint64(s[16:], ringDataOff)
	binary.LittleEndian.PutUint64(s[24:], g.size)
	binary.LittleEndian.PutUint32(s[32:], crc32.Checksum(s[8:32], castagnoli))
	g.store(headOff, 0)
	g.store(tailOff, 0)
	g.reg.Flush(0, ringDataOff)
	g.reg.Fence()
	binary.LittleEndian.PutUint64(s, ringMagic)
	g.reg.Flush(superOff, 8)
	g.reg.Fence()
	g.head, g.tail = 0, 0
}

func (g *Ring) checkSuperLocked() error {
	s := g.mem[superOff:]
	if got, want := binary.LittleEndian.Uint32(s[32:]), crc32.Checksum(s[8:32], castagnoli); got != want {
		return fmt.Errorf("%w: superblock checksum %08x, want %08x", ErrRingCorrupt, got, want)
	}
	if v := binary.LittleEndian.Uint32(s[8:]); v != ringVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", ErrRingFormat, v, ringVersion)
	}
	if off := binary.LittleEndian.Uint64(s[16:]); off != ringDataOff {
		return fmt.Errorf("%w: data area at %d, want %d", ErrRingFormat, off, ringDataOff)
	}
	if sz := binary.LittleEndian.Uint64(s[24:]); sz != g.size {
		return fmt.Errorf("%w: ring formatted for %d data bytes, region holds %d", ErrRingFormat, sz, g.size)
	}
	return nil
}

// store is the one aligned 8-byte store that publishes HEAD or TAIL: an
// atomic store compiles to a single MOV on amd64 and STR on arm64, which
// is the unit of failure atomicity (the Go compiler is free to split an
// ordinary one). The value is in native byte order, little-endian on
// every platform the project builds for.
func (g *Ring) store(off int, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&g.mem[off])), v)
}

func (g *Ring) load(off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&g.mem[off])))
}

func (g *Ring) flush(s step, off, n int) {
	if g.skip != s {
		g.reg.Flush(off, n)
	}
}

func (g *Ring) fence(s step) {
	if g.skip != s {
		g.reg.Fence()
	}
}

func recLen(payload int) uint64 {
	return (recHeaderLen + uint64(payload) + recAlign - 1) &^ (recAlign - 1)
}

// MaxPayload is the largest payload Append takes. It is about half the
// data area, so that a record always fits in an empty ring wherever TAIL
// stands (before the end of the data area, or after a padding record).
func (g *Ring) MaxPayload() int { return int(g.size/2) - recHeaderLen }

// Append publishes payload as the next record and returns the logical
// offset just past it, the value to Release once the record is no longer
// needed. When it returns the record is persistent: a power loss at any
// later instant leaves it in the ring. It fails with ErrRingFull when the
// free space cannot take the record now (Release makes room), and with
// ErrRecordTooLarge when it never could (above MaxPayload).
//
// The publish protocol (the numbers are the steps in doc.go): the record
// (and a padding record when it does not fit before the end of the data
// area) is stored after TAIL, flushed (1, 2) and fenced (3); then TAIL is
// stored with one 8-byte store, flushed (4) and fenced (5). A power loss
// before TAIL's line reaches the persistence domain leaves the old TAIL,
// and recovery ignores whatever was stored beyond it.
func (g *Ring) Append(payload []byte) (uint64, error) {
	if len(payload) > g.MaxPayload() {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrRecordTooLarge, len(payload), g.MaxPayload())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, ErrClosed
	}
	n := recLen(len(payload))
	pos := g.tail
	skip := g.gapAt(pos, n)
	if need := skip + n; need > g.size-(g.tail-g.head) {
		return 0, fmt.Errorf("%w: %d bytes needed, %d free", ErrRingFull, need, g.size-(g.tail-g.head))
	}
	if skip >= recHeaderLen {
		p := pos % g.size
		h := g.data[p:]
		binary.LittleEndian.PutUint32(h[4:], uint32(skip-recHeaderLen)|padFlag)
		binary.LittleEndian.PutUint64(h[8:], pos)
		binary.LittleEndian.PutUint32(h[0:], crc32.Checksum(h[4:recHeaderLen], castagnoli))
		g.flush(stepFlushPadding, ringDataOff+int(p), recHeaderLen)
	}
	pos += skip
	p := pos % g.size
	h := g.data[p : p+n]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:], pos)
	copy(h[recHeaderLen:], payload)
	binary.LittleEndian.PutUint32(h[0:], crc32.Checksum(h[4:recHeaderLen+len(payload)], castagnoli))
	g.flush(stepFlushRecord, ringDataOff+int(p), recHeaderLen+len(payload))
	g.fence(stepFenceRecord)

	g.tail = pos + n
	g.store(tailOff, g.tail)
	g.flush(stepFlushTail, tailOff, 8)
	g.fence(stepFenceTail)
	return g.tail, nil
}

// gapAt is how many bytes at logical offset pos must be skipped before a
// record of n bytes: none if it fits before the end of the data area,
// else the rest of the data area (a padding record fills it; a rest
// smaller than a record header is skipped implicitly, recovery knowing
// that no record starts there).
func (g *Ring) gapAt(pos, n uint64) uint64 {
	rest := g.size - pos%g.size
	if rest >= n {
		return 0
	}
	return rest
}

// Release gives back the space of every record before logical offset
// upTo (a value Append returned, or Tail). HEAD is stored, flushed (6)
// and fenced (7) before Release returns, so no later Append can overwrite
// a record that recovery would still scan from a stale HEAD.
func (g *Ring) Release(upTo uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if upTo < g.head || upTo > g.tail {
		return fmt.Errorf("%w: release to %d outside head %d .. tail %d", ErrRingRelease, upTo, g.head, g.tail)
	}
	if upTo == g.head {
		return nil
	}
	g.head = upTo
	g.store(headOff, upTo)
	g.flush(stepFlushHead, headOff, 8)
	g.fence(stepFenceHead)
	return nil
}

// Scan calls fn with each record between HEAD and TAIL, oldest first:
// its logical offset, the offset just past it (for Release) and its
// payload, which aliases the region and is valid only during the call.
// An error from fn stops the scan and is returned.
func (g *Ring) Scan(fn func(off, end uint64, payload []byte) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	return g.scanLocked(fn)
}

// scanLocked walks HEAD..TAIL checking every record: header within the
// data area and below TAIL, sequence equal to its offset, checksum. The
// first failure is corruption: the record was published (it is below
// TAIL) so a crash cannot explain it.
func (g *Ring) scanLocked(fn func(off, end uint64, payload []byte) error) error {
	head, tail := g.head, g.tail
	if head > tail || tail-head > g.size || head%recAlign != 0 || tail%recAlign != 0 {
		return fmt.Errorf("%w: head %d, tail %d, data size %d", ErrRingCorrupt, head, tail, g.size)
	}
	for pos := head; pos < tail; {
		p := pos % g.size
		rest := g.size - p
		if rest < recHeaderLen {
			pos += rest
			continue
		}
		bad := func(why string, args ...any) error {
			return fmt.Errorf("%w: record at offset %d (region offset %d): %s", ErrRingCorrupt, pos, ringDataOff+p, fmt.Sprintf(why, args...))
		}
		if tail-pos < recHeaderLen {
			return bad("header crosses tail %d", tail)
		}
		h := g.data[p:]
		crc := binary.LittleEndian.Uint32(h[0:])
		lenf := binary.LittleEndian.Uint32(h[4:])
		seq := binary.LittleEndian.Uint64(h[8:])
		if seq != pos {
			return bad("sequence %d", seq)
		}
		plen := uint64(lenf &^ padFlag)
		n := recLen(int(plen))
		if lenf&padFlag != 0 {
			if recHeaderLen+plen != rest {
				return bad("padding of %d bytes does not end the data area", plen)
			}
			n, plen = rest, 0
		} else if n > rest {
			return bad("length %d runs past the end of the data area", plen)
		}
		if n > tail-pos {
			return bad("length %d runs past tail %d", plen, tail)
		}
		if want := crc32.Checksum(h[4:recHeaderLen+plen], castagnoli); crc != want {
			return bad("checksum %08x, want %08x", crc, want)
		}
		if fn != nil && lenf&padFlag == 0 {
			if err := fn(pos, pos+n, h[recHeaderLen:recHeaderLen+plen]); err != nil {
				return err
			}
		}
		pos += n
	}
	return nil
}

// Head is the logical offset of the oldest record kept.
func (g *Ring) Head() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.head
}

// Tail is the logical offset just past the newest record.
func (g *Ring) Tail() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tail
}

// DataSize is the size of the data area in bytes.
func (g *Ring) DataSize() int { return int(g.size) }

// Region is the region the ring lives in.
func (g *Ring) Region() Region { return g.reg }

// Close stops the ring: later calls fail with ErrClosed. What was
// published stays published; the region stays mapped.
func (g *Ring) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.closed = true
	return nil
}
