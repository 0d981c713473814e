package main

import "errors"

var (
	// errDataDir is returned when --data-dir cannot be created or written.
	errDataDir = errors.New("data dir is not writable")
	// errNondurable is returned by serve for a --log-backend that is not
	// durable without the flag that accepts it.
	errNondurable = errors.New("log backend is not durable")
)
