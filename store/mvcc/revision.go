package mvcc

import "encoding/binary"

// revision identifies one write: main is the store revision of the request,
// sub the position of the write inside it.
type revision struct {
	main, sub int64
}

func (a revision) less(b revision) bool {
	return a.main < b.main || (a.main == b.main && a.sub < b.sub)
}

const (
	revKeyLen  = 17  // main(8) '_' sub(8)
	tombMarker = 't' // appended to the bbolt key of a deletion
)

// putRevKey writes the bbolt key of r into b, which must hold revKeyLen
// bytes, or revKeyLen+1 when tomb is set. Big-endian keeps bbolt's byte
// order equal to revision order.
func putRevKey(b []byte, r revision, tomb bool) []byte {
	binary.BigEndian.PutUint64(b, uint64(r.main))
	b[8] = '_'
	binary.BigEndian.PutUint64(b[9:], uint64(r.sub))
	if tomb {
		b[revKeyLen] = tombMarker
		return b[:revKeyLen+1]
	}
	return b[:revKeyLen]
}

func revKey(r revision, tomb bool) []byte {
	return putRevKey(make([]byte, revKeyLen+1), r, tomb)
}

// parseRevKey decodes a bbolt key written by putRevKey.
func parseRevKey(b []byte) (r revision, tomb bool, ok bool) {
	if len(b) < revKeyLen || len(b) > revKeyLen+1 || b[8] != '_' {
		return revision{}, false, false
	}
	if len(b) == revKeyLen+1 {
		if b[revKeyLen] != tombMarker {
			return revision{}, false, false
		}
		tomb = true
	}
	r.main = int64(binary.BigEndian.Uint64(b))
	r.sub = int64(binary.BigEndian.Uint64(b[9:]))
	return r, tomb, true
}

func u64Bytes(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

func bytesU64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
