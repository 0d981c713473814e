package logbackends

import "errors"

var (
	// ErrUnknownBackend is returned by a Registry for a name nobody registered.
	ErrUnknownBackend = errors.New("unknown log backend")
	// ErrBadConfig is returned by a backend's Config.Validate (and by its
	// Open) for a setting out of range; the error names the flag.
	ErrBadConfig = errors.New("bad log backend setting")
	// ErrCorrupt reports a record that fails its checksum or framing where a
	// torn tail cannot explain it. It is wrapped with the file and offset.
	ErrCorrupt = errors.New("log corrupt")
	// ErrClosed is returned by operations on a closed backend.
	ErrClosed = errors.New("log backend closed")
	// ErrLogGap is returned by Save for entries that would leave a hole in
	// the log (the first new entry is beyond the last index plus one).
	ErrLogGap = errors.New("log entries not contiguous")
	// ErrConcurrentSave is returned by a ConcurrentSaver's Save that would
	// overwrite entries or install a snapshot while another Save waits for
	// its sync.
	ErrConcurrentSave = errors.New("save conflicts with a concurrent save waiting for its sync")
	// ErrOutOfBounds is returned for an index beyond the last entry, or a
	// compaction beyond the last snapshot.
	ErrOutOfBounds = errors.New("log index out of bounds")
)
