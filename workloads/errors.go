package workloads

import "errors"

var (
	// ErrConfig reports an invalid Config; the wrapping error names the field.
	ErrConfig = errors.New("workloads: invalid config")
	// ErrUnknown reports a workload or distribution name that is not known.
	ErrUnknown = errors.New("workloads: unknown name")
)
