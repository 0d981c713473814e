// Package e2e runs adrbench the way users do: as `adrbench serve` processes
// driven by Debian's etcdctl, side by side with real etcd processes started
// with the same flags.
//
// The tests start their clusters with internal/proccluster, which runs N
// member processes of either binary on free loopback ports with etcd's
// static-cluster flags, waits until every member answers a linearizable
// read and agrees on a leader, and kills (SIGKILL), stops (SIGTERM) and
// restarts members from their data dirs. Script and Runner run
// testdata/etcdctl.script, a list of etcdctl commands, and return a
// transcript with ports, ids, versions, sizes, raft terms and timings
// masked, so that the transcript of our server can be compared line by line
// with testdata/etcdctl.golden, which real etcd produced (regenerate it with
// `go test ./e2e -run TestEtcdctlCompat/etcd -args -update`). The script
// ends with authentication: users, roles and key-range permissions set up,
// `auth enable`, then etcdctl with and without --user, allowed and
// denied, and `auth disable`, so etcd's auth errors are compared too.
// testdata/auth-jwt.script does the same with signed tokens, against etcd
// and our server both started with --auth-token jwt and the same keys.
//
// The integrity tests alter members the way failures do, offline, and
// check that each is noticed: a database removed after the log was
// compacted is refused at start, an altered database shows another
// `etcdctl endpoint hashkv` and fails the initial corruption check (for
// etcd and for us), and a snapshot saved with etcdctl restores with its
// sha256 checked. The power-loss test runs members on internal/lossyfs and
// cuts the power under them (it needs FUSE, and says so when it skips).
//
// The tests need etcd and etcdctl on PATH and skip with the reason when they
// are missing; scripts/test.sh installs them so that CI never skips.
package e2e
