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
