package sweep

import "errors"

var (
	// ErrConfig reports a sweep config that cannot be run; the wrapping
	// error names the field and, when it came from a file, the line.
	ErrConfig = errors.New("sweep: invalid config")
	// ErrInterrupted reports a sweep stopped by its context before every
	// point was measured; what was measured is kept.
	ErrInterrupted = errors.New("sweep: interrupted")
	// ErrPointsFailed reports a sweep in which some points could not be
	// measured (their cluster did not start, say); the others are kept.
	ErrPointsFailed = errors.New("sweep: points failed")
	// ErrRunDir reports a run directory that cannot be resumed.
	ErrRunDir = errors.New("sweep: run directory")
)
