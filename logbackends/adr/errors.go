package adrlog

import "errors"

var (
	// ErrRegionMismatch is an Open whose region does not hold this log's
	// ring while entries of the log may be in that ring only (it is empty,
	// another member's, an older one of this member, or damaged), or
	// whose region holds something that is not this log's and may not be
	// formatted over. The error names the region, the log directory and
	// what to do; Config.RegionReset accepts the loss.
	ErrRegionMismatch = errors.New("region does not hold the log's ring")
	// ErrLogMismatch is an Open of a log directory bound as another
	// member's log (logbackends.Env names this one).
	ErrLogMismatch = errors.New("log belongs to another member")
	// ErrRingFullTimeout is a Save that waited longer than
	// Config.RingFullTimeout for the drainer to free space in the ring.
	ErrRingFullTimeout = errors.New("ring stayed full")
)
