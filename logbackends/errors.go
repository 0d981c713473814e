package logbackends

import "errors"

var (
	// ErrUnknownBackend is returned by Registry.Open for a name nobody registered.
	ErrUnknownBackend = errors.New("unknown log backend")
	// ErrCorrupt reports a record that fails its checksum or framing where a
	// torn tail cannot explain it. It is wrapped with the file and offset.
	ErrCorrupt = errors.New("log corrupt")
	// ErrClosed is returned by operations on a closed backend.
	ErrClosed = errors.New("log backend closed")
)
