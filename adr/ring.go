package adr

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The ring's layout in a region; doc.go has the byte diagram and the field
// table. The superblock takes lines 0 and 1; HEAD and TAIL get a cache
// line each, apart from the superblock and from each other, so that
// flushing one never writes back a half-made store to another.
const (
	ringMagic   = 0x31474e4952524441 // "ADRRING1", little-endian
	ringVersion = 2

	superOff = 0
	// Offsets of the superblock's fields.
	sbVersion  = 8
	sbReserved = 12
	sbDataOff  = 16
	sbDataSize = 24
	sbRing     = 32
	sbCluster  = 48
	sbMember   = 56
	sbDrained  = 64
	sbCRC      = 72
	superLen   = 76

	headOff     = 2 * LineSize
	tailOff     = 3 * LineSize
	ringDataOff = 4 * LineSize

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
	stepFlushClear        // 8: flush the cleared magic number
	stepFenceClear        // 9: fence: the old ring is gone before its fields change
	stepFlushSuper        // 10: flush the new superblock, HEAD and TAIL
	stepFenceSuper        // 11: fence: every field is persistent before the magic makes them count
	stepFlushMagic        // 12: flush the magic number
	stepFenceMagic        // 13: fence: the ring exists before FormatRing returns
	numSteps
)

// firstFormatStep is the first step of FormatRing; the ones before it are
// Append's and Release's.
const firstFormatStep = stepFlushClear

func (s step) String() string {
	return [...]string{"none", "flush padding", "flush record", "fence record",
		"flush tail", "fence tail", "flush head", "fence head",
		"flush cleared magic", "fence cleared magic", "flush superblock", "fence superblock",
		"flush magic", "fence magic"}[s]
}

// UUID is a random 128-bit identifier (RFC 9562 version 4).
type UUID [16]byte

// NewUUID returns a random UUID from the operating system's source.
func NewUUID() (UUID, error) {
	var u UUID
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("adr: random ring id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u, nil
}

// String formats u as 8-4-4-4-12 hexadecimal digits.
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// IsZero reports whether u is the zero UUID, which no ring has.
func (u UUID) IsZero() bool { return u == UUID{} }

// Identity is what a ring's superblock says about the log it belongs to.
// Whoever formats a ring chooses it; the ring only keeps it, under the
// superblock's checksum, so that a log can tell its own ring from another
// member's, from an older ring of its own, and from a region that was
// lost and handed out again.
type Identity struct {
	// Ring is random and new for every ring formatted: two rings never
	// share it, even two of one member.
	Ring UUID
	// Cluster and Member name the raft member whose log this is (0:
	// unknown).
	Cluster, Member uint64
	// Drained is the index up to which the log's disk copy held every
	// entry when this ring was formatted for it.
	Drained uint64
}

func (id Identity) String() string {
	return fmt.Sprintf("ring %s of member %x in cluster %x (bound at index %d)", id.Ring, id.Member, id.Cluster, id.Drained)
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
	id   Identity

	mu         sync.Mutex
	head, tail uint64 // as last stored; the persistent copies are in mem
	closed     bool
	// skip is set only by tests in this package: the protocol step to
	// leave out, to prove that the power-loss test notices.
	skip step
}

// ContentKind says what Inspect found in a region.
type ContentKind int

const (
	// ContentZero is a region whose every byte is zero: never used, or
	// lost and handed out again (a new tmpfs file, a new namespace).
	ContentZero ContentKind = iota
	// ContentRing is a region with a ring superblock that checks.
	ContentRing
	// ContentOther is anything else: another format, a damaged
	// superblock, or a FormatRing that did not finish.
	ContentOther
)

// Content is what a region holds, as Inspect found it.
type Content struct {
	Kind ContentKind
	// Identity is the ring's (ContentRing).
	Identity Identity
	// Used is how many bytes of records lie between the ring's HEAD and
	// TAIL (ContentRing): 0 for a ring whose records were all released.
	Used uint64
	// Err says why the region holds no ring this build opens
	// (ContentOther); it wraps ErrRingCorrupt or ErrRingFormat.
	Err error
}

// Describe says what the region holds in a few words, for error messages.
func (c Content) Describe() string {
	switch c.Kind {
	case ContentZero:
		return "nothing (every byte is zero)"
	case ContentRing:
		return fmt.Sprintf("%s with %d bytes of records", c.Identity, c.Used)
	}
	return fmt.Sprintf("no ring this build opens (%v)", c.Err)
}

// layoutOf returns the region's memory and the size of its data area, or
// an error wrapping ErrRingFormat when the region is too small for a ring.
func layoutOf(r Region) ([]byte, uint64, error) {
	mem := r.Bytes()
	if len(mem) < ringDataOff+minDataLen {
		return nil, 0, fmt.Errorf("%w: region of %d bytes is smaller than the ring's minimum %d", ErrRingFormat, len(mem), ringDataOff+minDataLen)
	}
	return mem, uint64(len(mem)-ringDataOff) &^ (recAlign - 1), nil
}

// Inspect reads what r holds without changing it: a ring (with its
// identity and how much it holds), nothing at all, or something that is
// not a ring this build opens. A region that is not all zero and holds no
// ring may be someone else's data or a ring damaged beyond recognition;
// the ring never formats one on its own.
func Inspect(r Region) Content {
	mem, size, err := layoutOf(r)
	if err != nil {
		if isZero(r.Bytes()) {
			return Content{Kind: ContentZero}
		}
		return Content{Kind: ContentOther, Err: err}
	}
	id, err := readSuper(mem, size)
	if err == nil {
		head, tail := loadWord(mem, headOff), loadWord(mem, tailOff)
		used := uint64(0)
		if tail > head {
			used = tail - head
		}
		return Content{Kind: ContentRing, Identity: id, Used: used}
	}
	if isZero(mem) {
		return Content{Kind: ContentZero}
	}
	return Content{Kind: ContentOther, Err: err}
}

// isZero reports whether every byte of b is zero.
func isZero(b []byte) bool {
	var zero [4096]byte
	for len(b) > 0 {
		n := min(len(b), len(zero))
		if !bytes.Equal(b[:n], zero[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// superblock returns the superblock of a ring of data size bytes for id,
// magic number and checksum included.
func superblock(size uint64, id Identity) []byte {
	s := make([]byte, superLen)
	binary.LittleEndian.PutUint64(s, ringMagic)
	binary.LittleEndian.PutUint32(s[sbVersion:], ringVersion)
	binary.LittleEndian.PutUint64(s[sbDataOff:], ringDataOff)
	binary.LittleEndian.PutUint64(s[sbDataSize:], size)
	copy(s[sbRing:], id.Ring[:])
	binary.LittleEndian.PutUint64(s[sbCluster:], id.Cluster)
	binary.LittleEndian.PutUint64(s[sbMember:], id.Member)
	binary.LittleEndian.PutUint64(s[sbDrained:], id.Drained)
	binary.LittleEndian.PutUint32(s[sbCRC:], crc32.Checksum(s[:sbCRC], castagnoli))
	return s
}

// readSuper checks the superblock in mem, for a data area of size bytes,
// and returns the identity it records. The checksum covers the magic
// number too, so one flipped bit anywhere in the superblock is caught:
// a damaged magic number is reported as corruption when the rest of the
// superblock still checks against the right one.
func readSuper(mem []byte, size uint64) (Identity, error) {
	s := mem[superOff : superOff+superLen]
	stored := binary.LittleEndian.Uint32(s[sbCRC:])
	if binary.LittleEndian.Uint64(s) != ringMagic {
		withMagic := binary.LittleEndian.AppendUint64(nil, ringMagic)
		if crc32.Update(crc32.Checksum(withMagic, castagnoli), castagnoli, s[8:sbCRC]) == stored {
			if m := binary.LittleEndian.Uint64(s); m != 0 {
				return Identity{}, fmt.Errorf("%w: superblock: magic number damaged (%016x), the rest checks", ErrRingCorrupt, m)
			}
			return Identity{}, fmt.Errorf("%w: superblock without its magic number, the rest checks: a format that did not finish", ErrRingFormat)
		}
		return Identity{}, fmt.Errorf("%w: no ring magic number at offset 0", ErrRingFormat)
	}
	if want := crc32.Checksum(s[:sbCRC], castagnoli); stored != want {
		return Identity{}, fmt.Errorf("%w: superblock checksum %08x, want %08x (version field %d)", ErrRingCorrupt, stored, want, binary.LittleEndian.Uint32(s[sbVersion:]))
	}
	if v := binary.LittleEndian.Uint32(s[sbVersion:]); v != ringVersion {
		return Identity{}, fmt.Errorf("%w: version %d, this build reads %d", ErrRingFormat, v, ringVersion)
	}
	if off := binary.LittleEndian.Uint64(s[sbDataOff:]); off != ringDataOff {
		return Identity{}, fmt.Errorf("%w: data area at %d, want %d", ErrRingFormat, off, ringDataOff)
	}
	if sz := binary.LittleEndian.Uint64(s[sbDataSize:]); sz != size {
		return Identity{}, fmt.Errorf("%w: ring formatted for %d data bytes, region holds %d", ErrRingFormat, sz, size)
	}
	var id Identity
	copy(id.Ring[:], s[sbRing:])
	id.Cluster = binary.LittleEndian.Uint64(s[sbCluster:])
	id.Member = binary.LittleEndian.Uint64(s[sbMember:])
	id.Drained = binary.LittleEndian.Uint64(s[sbDrained:])
	return id, nil
}

// OpenRing opens the ring kept in r and validates every record between
// HEAD and TAIL. A damaged record there is an error wrapping
// ErrRingCorrupt that names its offset, never a shorter ring. A region
// that holds no ring is an error too: wrapping ErrNoRing when it is all
// zero, else ErrRingFormat or ErrRingCorrupt; OpenRing never formats.
// The ring does not own r: closing it is the caller's job, after Close.
func OpenRing(r Region) (*Ring, error) {
	mem, size, err := layoutOf(r)
	if err != nil {
		return nil, err
	}
	c := Inspect(r)
	switch c.Kind {
	case ContentZero:
		return nil, fmt.Errorf("%w: every byte is zero", ErrNoRing)
	case ContentOther:
		return nil, c.Err
	}
	g := &Ring{reg: r, mem: mem, data: mem[ringDataOff : ringDataOff+int(size)], size: size, id: c.Identity}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.head, g.tail = g.load(headOff), g.load(tailOff)
	if err := g.scanLocked(nil); err != nil {
		return nil, err
	}
	return g, nil
}

// FormatRing writes an empty ring for id into r, whatever r held, and
// returns it open. Deciding that r may be formatted is the caller's
// business: a region that is not all zero may hold another log's records
// (see Inspect).
//
// The format protocol (steps numbered as in doc.go):
//
//	store magic = 0
//	8  flush it
//	9  fence                 what r held stops being a ring first
//	store the superblock (its checksum covers the magic to come), HEAD = 0, TAIL = 0
//	10 flush them
//	11 fence                 every field is persistent before the magic
//	store magic
//	12 flush it
//	13 fence                 the ring exists before FormatRing returns
//
// A power loss at any instant leaves r as it was (if the cleared magic
// had not reached the media), without a ring (an unfinished format), or
// as the new, empty ring: never a ring that has the new identity and the
// old HEAD and TAIL, which would hand the old ring's records to the new
// log.
func FormatRing(r Region, id Identity) (*Ring, error) {
	return formatRing(r, id, stepNone)
}

func formatRing(r Region, id Identity, skip step) (*Ring, error) {
	mem, size, err := layoutOf(r)
	if err != nil {
		return nil, err
	}
	g := &Ring{reg: r, mem: mem, data: mem[ringDataOff : ringDataOff+int(size)], size: size, id: id, skip: skip}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.formatLocked()
	return g, nil
}

func (g *Ring) formatLocked() {
	g.store(superOff, 0)
	g.flush(stepFlushClear, superOff, 8)
	g.fence(stepFenceClear)

	s := superblock(g.size, g.id)
	copy(g.mem[superOff+8:superOff+superLen], s[8:])
	g.store(headOff, 0)
	g.store(tailOff, 0)
	g.flush(stepFlushSuper, superOff, ringDataOff)
	g.fence(stepFenceSuper)

	g.store(superOff, ringMagic)
	g.flush(stepFlushMagic, superOff, 8)
	g.fence(stepFenceMagic)
	g.head, g.tail = 0, 0
}

// Identity is the identity the ring was formatted with.
func (g *Ring) Identity() Identity { return g.id }

// store is the one aligned 8-byte store that publishes HEAD or TAIL: an
// atomic store compiles to a single MOV on amd64 and STR on arm64, which
// is the unit of failure atomicity (the Go compiler is free to split an
// ordinary one). The value is in native byte order, little-endian on
// every platform the project builds for.
func (g *Ring) store(off int, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&g.mem[off])), v)
}

func (g *Ring) load(off int) uint64 { return loadWord(g.mem, off) }

// loadWord reads the 8-byte word HEAD or TAIL is stored in.
func loadWord(mem []byte, off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&mem[off])))
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

// Payload returns the payload of the published record of n bytes that
// ends at logical offset end (the value Append returned for it). It aliases
// the region, so reading it copies nothing; it is valid until the record
// is released, and Append never stores into it before then. A record that
// is not between HEAD and TAIL is an error wrapping ErrNoRecord.
func (g *Ring) Payload(end uint64, n int) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	if n < 0 || n > g.MaxPayload() {
		return nil, fmt.Errorf("%w: a record of %d bytes", ErrNoRecord, n)
	}
	l := recLen(n)
	if end < l || end-l < g.head || end > g.tail {
		return nil, fmt.Errorf("%w: a record of %d bytes ending at %d, outside head %d .. tail %d", ErrNoRecord, n, end, g.head, g.tail)
	}
	p := (end - l) % g.size
	return g.data[p+recHeaderLen : p+recHeaderLen+uint64(n) : p+recHeaderLen+uint64(n)], nil
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
