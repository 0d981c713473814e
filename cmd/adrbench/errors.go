package main

import "errors"

// errDataDir is returned when --data-dir cannot be created or written.
var errDataDir = errors.New("data dir is not writable")

// errCheckFailed marks a linearizability check that ran and found
// something wrong.
var errCheckFailed = errors.New("linearizability check failed")

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
