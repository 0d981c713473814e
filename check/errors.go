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
	// ErrInterrupted reports a check whose context ended before it
	// finished: what it recorded is written and checked, but the checks
	// after the faults did not run.
	ErrInterrupted = errors.New("check: interrupted")
)
