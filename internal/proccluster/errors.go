package proccluster

import "errors"

var (
	// ErrConfig reports an invalid Config; the wrapping error names the
	// field.
	ErrConfig = errors.New("proccluster: invalid config")
	// ErrNoMember reports a member index outside the cluster.
	ErrNoMember = errors.New("proccluster: no such member")
	// ErrRunning reports a start of a member whose process is alive.
	ErrRunning = errors.New("proccluster: member is running")
	// ErrNotRunning reports a signal for a member that has no live
	// process.
	ErrNotRunning = errors.New("proccluster: member is not running")
	// ErrMemberExited reports a member process that exited while the
	// cluster waited for it; the wrapping error carries its log's tail.
	ErrMemberExited = errors.New("proccluster: member process exited")
	// ErrNotHealthy reports a cluster (or member) that did not become
	// healthy (or serving) before the context ended.
	ErrNotHealthy = errors.New("proccluster: not healthy")
	// ErrNoLeader reports running members that name no leader among
	// themselves before the context ended.
	ErrNoLeader = errors.New("proccluster: no leader")
	// ErrStop reports a member that did not stop cleanly: it outlived
	// the context after SIGTERM and was killed, or it exited with an
	// error.
	ErrStop = errors.New("proccluster: unclean stop")
	// ErrPortsLost reports a start whose every attempt lost a member's
	// port to another process between the probe and the bind.
	ErrPortsLost = errors.New("proccluster: ports lost")
)
