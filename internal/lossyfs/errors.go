package lossyfs

import "errors"

var (
	// ErrNoFUSE says this machine cannot mount a FUSE file system; the
	// wrapping error names what is missing and how to get it.
	ErrNoFUSE = errors.New("lossyfs: FUSE is not available")
	// ErrOptions is returned by New for a bad backing directory or option.
	ErrOptions = errors.New("lossyfs: bad options")
	// ErrMounted is returned by Mount when the file system is mounted
	// already.
	ErrMounted = errors.New("lossyfs: already mounted")
	// ErrNotMounted is returned by Unmount when the file system is not
	// mounted.
	ErrNotMounted = errors.New("lossyfs: not mounted")
	// ErrCut is returned by PowerCut when the backing directory could not
	// be brought back to its durable state.
	ErrCut = errors.New("lossyfs: power cut left the backing directory inconsistent")
)

// errNotRecorded tells the namespace journal that an operation succeeded
// without changing the namespace (an open of an existing file through
// create), so there is nothing to undo.
var errNotRecorded = errors.New("lossyfs: nothing to record")
