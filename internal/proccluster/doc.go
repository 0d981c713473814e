// Package proccluster starts and drives a cluster of member processes that
// take etcd's flags: `adrbench serve`, or real etcd for side-by-side runs.
// The harness's process and etcd targets and the end-to-end tests run
// their clusters through it, and so does anything that needs real
// processes to crash, stop or pause.
//
// Start picks loopback ports (internal/ports), gives member i the name
// m<i>, the data directory Dir/m<i> and the log Dir/m<i>.log (every
// incarnation appends to it after a line naming its command), starts the
// members with etcd's static-cluster flags (--initial-cluster written by
// store.FormatInitialCluster) followed by the caller's flags, and returns
// once the cluster is healthy: every member answers a linearizable read
// and names the same leader. A member that exits during a wait ends it at
// once with the tail of its log. Ports are probed and released before the
// members bind them, so another process can take one in between; Start
// then sees "address already in use" in that attempt's log and tries again
// on new ports, removing the failed attempt's data first.
//
// Faults are signals: Kill is SIGKILL (a crash of the process; what the
// kernel holds in its page cache survives), Stop is SIGTERM with a grace
// bounded by the context and SIGKILL after it, Pause and Resume are SIGSTOP
// and SIGCONT (a member that keeps its connections but answers nothing),
// and Restart starts a member again from its data directory with
// --initial-cluster-state existing. Restart does not wait, because a member
// restarted while its quorum is down cannot serve yet (real etcd does not
// even open its client port); WaitServing and WaitHealthy wait for one
// member or all.
//
// Two hooks keep the cluster ignorant of what its callers add. PeerFront
// puts something in front of every member's peer port, which the members
// then advertise, so every peer connection to a member passes it whichever
// side dials: the harness puts its delaying proxies there. RemoveMember
// removes a member's data directory and whatever else its log backend
// keeps for it (an emulated persistent-memory region lives outside the
// directory); the cluster calls it once per member, before a retry and on
// Close, unless KeepData leaves the data to the caller.
//
// With TLS set, the members get https:// URLs and etcd's TLS flags for
// both ports from the files it names, client certificates required on
// both, and the cluster's own clients (the health checks) present the
// client certificate it names; ClientTLS gives callers the same.
//
// CPU reports each member's user and system time through gopsutil for a
// live process and from the exit status for incarnations that ended, so a
// member killed and restarted during a measurement is counted whole.
package proccluster
