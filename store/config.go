package store

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/store/tlsinfo"
)

// Member is one member of the initial cluster.
type Member struct {
	Name     string
	PeerURLs []string
}

// Config configures one member. Field names follow etcd's flags.
type Config struct {
	Name    string // --name
	DataDir string // --data-dir

	ListenClientURLs    []string // --listen-client-urls
	AdvertiseClientURLs []string // --advertise-client-urls
	ListenPeerURLs      []string // --listen-peer-urls
	AdvertisePeerURLs   []string // --initial-advertise-peer-urls

	InitialCluster      []Member // --initial-cluster, parsed
	InitialClusterState string   // --initial-cluster-state: "new" or "existing"
	InitialClusterToken string   // --initial-cluster-token

	SnapshotCount uint64 // --snapshot-count: applied entries between snapshots
	// SnapshotCatchUpEntries is how many entries the log keeps behind a
	// snapshot, so a slightly lagging follower gets entries, not a snapshot.
	SnapshotCatchUpEntries uint64        // --snapshot-catchup-entries
	HeartbeatInterval      time.Duration // --heartbeat-interval
	ElectionTimeout        time.Duration // --election-timeout
	QuotaBackendBytes      int64         // --quota-backend-bytes
	MaxRequestBytes        int           // --max-request-bytes
	MaxTxnOps              int           // --max-txn-ops

	// LogBackend is a name in the backend registry NewServer is given,
	// whose entry carries the backend's own settings (the adr region's
	// flags among them).
	LogBackend string // --log-backend

	EnablePprof bool // --enable-pprof: serve runtime profiles under /debug/pprof/

	// DiskProfile names an emulated disk (logbackends/diskprofile) whose
	// sync latency is added to every sync of the log backend; "native"
	// adds none. DiskSyncLatency adds a fixed latency instead.
	DiskProfile     string        // --disk-profile
	DiskSyncLatency time.Duration // --disk-sync-latency

	// BackendBatchInterval and BackendBatchLimit bound how long and how many
	// writes the MVCC store's bbolt batch holds before it commits.
	BackendBatchInterval time.Duration
	BackendBatchLimit    int

	// UnsafeStaleReads breaks linearizability on purpose, for tests of
	// the linearizability check only: a follower answers linearizable
	// reads from its own state, without ReadIndex, so a partitioned or
	// lagging follower serves stale values.
	UnsafeStaleReads bool // --unsafe-test-stale-reads (hidden)

	// ClientTLS secures the client port (--cert-file, --key-file,
	// --trusted-ca-file, --client-cert-auth, --auto-tls) and PeerTLS the
	// peer port and the connections to peers (--peer-cert-file,
	// --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth,
	// --peer-auto-tls, --peer-cert-allowed-cn,
	// --peer-cert-allowed-hostname); --cipher-suites, --tls-min-version
	// and --tls-max-version go in both. With TLS on a port, its URLs are
	// https://, without it http://.
	ClientTLS tlsinfo.Info
	PeerTLS   tlsinfo.Info

	// InitialCorruptCheck compares the member's key space with its
	// peers' before it starts, and refuses to start on a mismatch.
	InitialCorruptCheck bool // --experimental-initial-corrupt-check
	// CorruptCheckTime is how often the leader compares the members' key
	// spaces, raising a CORRUPT alarm on a mismatch; 0 never.
	CorruptCheckTime time.Duration // --experimental-corrupt-check-time

	// AuthToken is etcd's --auth-token: "simple" (random tokens kept by
	// every member, the default) or "jwt,pub-key=FILE,priv-key=FILE,
	// sign-method=METHOD[,ttl=DURATION]" (signed tokens; priv-key alone
	// for the HS methods, pub-key alone on a member that only verifies).
	AuthToken string // --auth-token
	// AuthTokenTTL is how long a simple token lives after its last use.
	AuthTokenTTL time.Duration // --auth-token-ttl
	// BcryptCost is the cost of the bcrypt hashes of users' passwords.
	BcryptCost int // --bcrypt-cost
}

// DefaultConfig returns etcd's defaults: one member called "default" on
// 127.0.0.1:2379/2380 with its data in ./default.adrbench.
func DefaultConfig() Config {
	return Config{
		Name:                   "default",
		DataDir:                "default.adrbench",
		ListenClientURLs:       []string{"http://127.0.0.1:2379"},
		AdvertiseClientURLs:    []string{"http://127.0.0.1:2379"},
		ListenPeerURLs:         []string{"http://127.0.0.1:2380"},
		AdvertisePeerURLs:      []string{"http://127.0.0.1:2380"},
		InitialCluster:         []Member{{Name: "default", PeerURLs: []string{"http://127.0.0.1:2380"}}},
		InitialClusterState:    "new",
		InitialClusterToken:    "etcd-cluster",
		SnapshotCount:          100000,
		SnapshotCatchUpEntries: 5000,
		HeartbeatInterval:      100 * time.Millisecond,
		ElectionTimeout:        1000 * time.Millisecond,
		QuotaBackendBytes:      2 << 30,
		MaxRequestBytes:        1536 * 1024,
		MaxTxnOps:              128,
		LogBackend:             batched.Name,
		DiskProfile:            "native",
		BackendBatchInterval:   100 * time.Millisecond,
		BackendBatchLimit:      10000,
		AuthToken:              "simple",
		AuthTokenTTL:           300 * time.Second,
		BcryptCost:             bcrypt.DefaultCost,
	}
}

// LogDir is the directory a member with data directory dataDir gives its raft
// log backend (logbackends.Env.Dir). A backend may keep things outside it
// named after it (the adr backend's emulated region on tmpfs), so a data
// directory is removed for good with RemoveDataDir, not os.RemoveAll.
func LogDir(dataDir string) string { return filepath.Join(dataDir, "member", "wal") }

// RemoveDataDir removes the data directory of a member whose log backend
// was the one called backend in backends, with everything that backend
// keeps for it outside the directory (backends.Destroy of LogDir(dataDir)).
// Call it only once the member is stopped for good. A directory that does
// not exist is not an error.
func RemoveDataDir(backends *logbackends.Registry, backend, dataDir string) error {
	return errors.Join(backends.Destroy(backend, LogDir(dataDir)), os.RemoveAll(dataDir))
}
