package adr

import "errors"

// Sentinel errors; callers compare with errors.Is.
var (
	// ErrRegionConfig is a bad region configuration (size, path, kind).
	ErrRegionConfig = errors.New("adr: bad region configuration")
	// ErrMap is a failure to map a region.
	ErrMap = errors.New("adr: cannot map region")
	// ErrClosed is the use of a closed region or ring.
	ErrClosed = errors.New("adr: closed")
)

// Ring errors.
var (
	// ErrRingFull is an Append that does not fit in the ring's free space
	// now; Release makes room.
	ErrRingFull = errors.New("adr: ring full")
	// ErrRecordTooLarge is an Append larger than the ring can ever hold.
	ErrRecordTooLarge = errors.New("adr: record too large for the ring")
	// ErrRingCorrupt is a published record (below TAIL), a superblock or a
	// HEAD/TAIL pair that fails its checks: damage a crash cannot explain.
	// It is wrapped with the offset.
	ErrRingCorrupt = errors.New("adr: ring corrupt")
	// ErrRingFormat is a region that does not hold a ring this build can
	// open (too small, no ring magic number, another version or size).
	ErrRingFormat = errors.New("adr: bad ring format")
	// ErrNoRing is OpenRing of a region that is all zero: it was never
	// formatted, or it lost its contents.
	ErrNoRing = errors.New("adr: region holds no ring")
	// ErrRingRelease is a Release outside the ring's records.
	ErrRingRelease = errors.New("adr: release outside the ring")
	// ErrNoRecord is a request for a record the ring does not hold.
	ErrNoRecord = errors.New("adr: no such record in the ring")
)
