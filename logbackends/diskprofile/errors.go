package diskprofile

import "errors"

var (
	// ErrUnknownProfile is returned by Lookup for a name that is not a profile.
	ErrUnknownProfile = errors.New("unknown disk profile")
	// ErrBadLatency is returned by Fixed for a negative latency.
	ErrBadLatency = errors.New("disk sync latency must not be negative")
)
