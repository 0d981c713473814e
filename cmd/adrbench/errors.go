package main

import "errors"

var (
	// errDataDir is returned when --data-dir cannot be created or written.
	errDataDir = errors.New("data dir is not writable")
	// errNondurable is returned by serve for a --log-backend that is not
	// durable without the flag that accepts it.
	errNondurable = errors.New("log backend is not durable")
	// errCheckFailed marks a linearizability check that ran and found
	// something wrong.
	errCheckFailed = errors.New("linearizability check failed")
)

// exitError is an error with the exit code the command ends with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the exit status for a command's error: its own when it
// carries one, else 1.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
