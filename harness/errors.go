package harness

import "errors"

var (
	// ErrConfig reports an invalid configuration; the wrapping error names
	// the field.
	ErrConfig = errors.New("harness: invalid config")
	// ErrTarget reports a target that could not be started or reached.
	ErrTarget = errors.New("harness: target")
	// ErrNoLeader reports a cluster whose members do not name a leader.
	ErrNoLeader = errors.New("harness: no leader")
	// ErrNotFound reports a binary that is not on PATH.
	ErrNotFound = errors.New("harness: not found")
	// ErrMetrics reports log-backend figures that could not be read from
	// a member or do not add up between two readings.
	ErrMetrics = errors.New("harness: metrics")
)
