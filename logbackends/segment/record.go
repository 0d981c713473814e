package segment

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Record types. Zero is never used, so a zeroed header reads as "nothing
// written here".
const (
	TypeEntry           byte = 1 // a raftpb.Entry
	TypeHardState       byte = 2 // a raftpb.HardState
	TypeSnapshot        byte = 3 // a raftpb.Snapshot taken locally (CreateSnapshot): the log is kept
	TypeSnapshotInstall byte = 4 // a raftpb.Snapshot received from a leader: the log restarts after it
	TypeCompact         byte = 5 // compaction point: index and term, 16 bytes little-endian
	maxType                  = TypeCompact
)

const (
	headerSize = 16
	align      = 8
	// sectorSize is the unit a disk is assumed to write atomically; a record
	// with a whole sector's share of it zeroed was torn by a crash.
	sectorSize = 512
)

// castagnoli is the CRC-32C table. It is computed once and never written
// after, so it is a constant in all but syntax.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func padded(n int) int { return (n + align - 1) &^ (align - 1) }

// beginRecord appends a header for a record of type typ to b, to be finished
// by endRecord once the payload has been appended after it.
func beginRecord(b []byte, typ byte) []byte {
	var h [headerSize]byte
	h[4] = typ
	return append(b, h[:]...)
}

// endRecord fills in the length and checksum of the record starting at
// start and pads b to the alignment.
func endRecord(b []byte, start int) []byte {
	n := len(b) - start - headerSize
	binary.LittleEndian.PutUint64(b[start+8:], uint64(n))
	crc := crc32.Checksum(b[start+4:], castagnoli)
	binary.LittleEndian.PutUint32(b[start:], crc)
	if p := padded(len(b)) - len(b); p > 0 {
		var z [align]byte
		b = append(b, z[:p]...)
	}
	return b
}

// header is a decoded record header.
type header struct {
	crc    uint32
	typ    byte
	length uint64
}

func readHeader(b []byte) header {
	return header{
		crc:    binary.LittleEndian.Uint32(b[0:4]),
		typ:    b[4],
		length: binary.LittleEndian.Uint64(b[8:16]),
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroFrom reports whether buf is all zero from off on, given that it is
// from written on.
func zeroFrom(buf []byte, written, off int64) bool {
	return off >= written || allZero(buf[off:written])
}

// zerosFrom returns where the zeros that end b start. It compares whole
// blocks with zeros first (bytes.Equal is one vectorised call per block),
// so a preallocated segment read whole costs little more than its read.
func zerosFrom(b []byte) int64 {
	const block = 64 << 10
	zero := make([]byte, block)
	n := len(b)
	for n >= block && bytes.Equal(b[n-block:n], zero) {
		n -= block
	}
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

// parseAt reports the record at off in buf: its payload and total (padded)
// size, or ok=false if there is no valid record there.
func parseAt(buf []byte, off int64) (typ byte, payload []byte, size int64, ok bool) {
	if off+headerSize > int64(len(buf)) {
		return 0, nil, 0, false
	}
	h := readHeader(buf[off:])
	if h.typ == 0 || h.typ > maxType || !allZero(buf[off+5:off+8]) {
		return 0, nil, 0, false
	}
	if h.length > uint64(int64(len(buf))-off-headerSize) {
		return 0, nil, 0, false
	}
	end := off + headerSize + int64(h.length)
	if crc32.Checksum(buf[off+4:end], castagnoli) != h.crc {
		return 0, nil, 0, false
	}
	return h.typ, buf[off+headerSize : end], int64(padded(int(headerSize + h.length))), true
}

// isZeroHeader reports whether nothing was ever written at off.
func isZeroHeader(buf []byte, off int64) bool {
	end := off + headerSize
	if end > int64(len(buf)) {
		end = int64(len(buf))
	}
	return allZero(buf[off:end])
}

// isTorn reports whether the invalid record at off, whose header is not
// all zero, looks like a write cut short by a crash rather than damage:
// some sector's share of it reads as zero. The segment is preallocated with
// zeros and only ever appended to, and a sector is written whole or not at
// all, so a crash can leave a record's sectors either written or zero,
// nothing else; bytes that differ from what was written inside a sector
// the record wrote are damage.
//
// Two kinds of damage would otherwise pass for a tear, because the length
// field decides how far the record reaches: a length that reaches over
// records written after this one (a torn record never covers a later
// write), and a length with one bit flipped that reaches into the zeros
// after the end of the log. A record that one flipped bit of its header
// makes valid again is damage, not a tear.
//
// Bytes from written on are zeros: no record starts there, and a sector's
// share there is zero.
func isTorn(buf []byte, written, off int64) bool {
	end := off + headerSize
	if h := readHeader(buf[off:]); end <= int64(len(buf)) && h.length <= uint64(int64(len(buf))-end) {
		end += int64(h.length)
	}
	if end > int64(len(buf)) {
		end = int64(len(buf))
	}
	for p := off + align; p < min(end, written); p += align {
		if _, _, _, ok := parseAt(buf, p); ok {
			return false
		}
	}
	if !zeroSector(buf[:end], written, off) {
		return false
	}
	return !oneBitFromValid(buf, off)
}

// zeroSector reports whether some sector's share of buf[off:] is all zero;
// buf is zero from written on.
func zeroSector(buf []byte, written, off int64) bool {
	end := int64(len(buf))
	for s := off; s < end; {
		if s >= written {
			return true
		}
		next := min((s/sectorSize+1)*sectorSize, end)
		if allZero(buf[s:next]) {
			return true
		}
		s = next
	}
	return false
}

// oneBitFromValid reports whether flipping one bit of the header at off
// makes a valid record there.
func oneBitFromValid(buf []byte, off int64) bool {
	if off+headerSize > int64(len(buf)) {
		return false
	}
	// buf is replay's own copy of the segment: each bit is flipped back
	// before the next.
	for bit := 0; bit < headerSize*8; bit++ {
		buf[off+int64(bit/8)] ^= 1 << (bit % 8)
		_, _, _, ok := parseAt(buf, off)
		buf[off+int64(bit/8)] ^= 1 << (bit % 8)
		if ok {
			return true
		}
	}
	return false
}

// writtenEnd is the offset just past the last byte of buf that is not
// zero, rounded up to the record alignment: how much of a preallocated
// segment was ever written. buf is zero from written on.
func writtenEnd(buf []byte, written int64) int64 {
	n := written
	for n > 0 && buf[n-1] == 0 {
		n--
	}
	return min(int64(padded(int(n))), int64(len(buf)))
}

// validRecordFrom reports whether any valid record starts at or after off;
// none starts at or after written, where buf is zero.
func validRecordFrom(buf []byte, written, off int64) bool {
	for p := off; p+headerSize <= int64(len(buf)) && p < written; p += align {
		if _, _, _, ok := parseAt(buf, p); ok {
			return true
		}
	}
	return false
}
