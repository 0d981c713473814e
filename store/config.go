package store

import (
	"path/filepath"
	"time"

	"github.com/adrbench/adrbench/adr"
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

	LogBackend string // --log-backend: a name in the backend registry

	EnablePprof bool // --enable-pprof: serve runtime profiles under /debug/pprof/

	// DiskProfile names an emulated disk (logbackends/diskprofile) whose
	// sync latency is added to every sync of the log backend; "native"
	// adds none. DiskSyncLatency adds a fixed latency instead.
	DiskProfile     string        // --disk-profile
	DiskSyncLatency time.Duration // --disk-sync-latency

	// ADRRegion is the persistent-memory region of the adr log backend
	// (--adr-region-kind, --adr-region-path, --adr-region-size,
	// --adr-media-latency); other backends ignore it. An empty Path puts
	// an emulated region at adr.DefaultEmulatedPath of the log directory.
	ADRRegion adr.RegionConfig

	// BackendBatchInterval and BackendBatchLimit bound how long and how many
	// writes the MVCC store's bbolt batch holds before it commits.
	BackendBatchInterval time.Duration
	BackendBatchLimit    int
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
		LogBackend:             "batched",
		DiskProfile:            "native",
		ADRRegion:              adr.DefaultRegionConfig(),
		BackendBatchInterval:   100 * time.Millisecond,
		BackendBatchLimit:      10000,
	}
}

// LogDir is the directory a member with data directory dataDir gives its raft
// log backend (Options.Dir). The adr backend's default emulated region is
// named after it, so whoever removes a data directory for good can remove
// that region too (adr.RemoveEmulatedRegion(LogDir(dataDir))).
func LogDir(dataDir string) string { return filepath.Join(dataDir, "member", "wal") }
