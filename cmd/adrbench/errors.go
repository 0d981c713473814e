package main

import "errors"

// errDataDir is returned when --data-dir cannot be created or written.
var errDataDir = errors.New("data dir is not writable")
