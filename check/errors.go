package check

import "errors"

var (
	// ErrConfig reports an invalid Config; the wrapping error names the
	// field.
	ErrConfig = errors.New("check: invalid config")
	// ErrUnknownFault reports a fault name the check does not know; the
	// wrapping error lists the known ones.
	ErrUnknownFault = errors.New("check: unknown fault")
	// ErrCluster reports a cluster that could not be started or driven.
	ErrCluster = errors.New("check: cluster")
	// ErrRunDir reports a run directory that could not be written.
	ErrRunDir = errors.New("check: run directory")
)
