package results

import "errors"

var (
	// ErrSchema reports a run.json whose schema is not one this package reads.
	ErrSchema = errors.New("results: unsupported schema")
	// ErrInvalid reports a run that fails validation; the wrapping error
	// names the field.
	ErrInvalid = errors.New("results: invalid run")
	// ErrExists reports a run directory that already holds a run.
	ErrExists = errors.New("results: run directory not empty")
	// ErrOtherRun reports a run directory to resume that holds a run of
	// another name.
	ErrOtherRun = errors.New("results: run directory holds another run")
)
