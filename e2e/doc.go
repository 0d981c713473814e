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
// The TLS tests make a CA and certificates with openssl, start clusters
// with client and peer TLS and client certificates required (etcd's
// flags, the same for both binaries), run the etcdctl transcript over TLS
// (the golden one, but for https:// in member URLs), and check that plain
// connections and certificates of another CA are refused, a member
// restarted with one among them included.
//
// The peer-bounds test speaks to a member's peer port without TLS with
// ids read from client responses, announces 2 GiB frames on 100 stream
// and 100 snapshot connections, and measures the member's resident set:
// the connections are closed (the stream ones at once, the silent
// snapshot ones at the idle deadline) and the memory stays put.
//
// The tests need etcd, etcdctl and openssl on PATH and skip with the reason when they
// are missing; scripts/test.sh installs them so that CI never skips.
package e2e
