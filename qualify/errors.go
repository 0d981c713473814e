package qualify

import "errors"

var (
	// ErrCannotRun means qualification could not run at all: the
	// directory to qualify is missing or not writable, the output
	// directory cannot be written, or the run was interrupted. The command
	// exits 2 for it.
	ErrCannotRun = errors.New("qualification could not run")
	// ErrConfig is a bad Config field.
	ErrConfig = errors.New("bad qualify config")
	// ErrProfile is a profile that cannot be loaded: an unknown name, a
	// file that does not parse, an unknown field or check, a bad threshold.
	ErrProfile = errors.New("bad qualify profile")
	// ErrPeer is a --peers address that is not host:port or does not
	// resolve.
	ErrPeer = errors.New("bad peer address")
	// ErrProtocol is a peer that does not speak the responder's protocol,
	// or speaks another version of it.
	ErrProtocol = errors.New("qualify protocol error")
	// ErrResult is a qualify.json that cannot be read or is not
	// adrbench.qualify/v1.
	ErrResult = errors.New("bad qualify result")
)
