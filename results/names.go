package results

// The values of Point.Target: where a point's cluster ran. The harness
// starts clusters under these names.
const (
	// TargetInproc is N store members in the generator's process.
	TargetInproc = "inproc"
	// TargetProcess is N `adrbench serve` child processes.
	TargetProcess = "process"
	// TargetEtcd is N real etcd processes, the reference.
	TargetEtcd = "etcd"
	// TargetExternal is a cluster someone else started.
	TargetExternal = "external"
)

// Values of Point.Backend that readers of a run give a meaning to. The
// log backends' names are their packages' Name constants (logbackends/...);
// the ones the figures compare are repeated here because plots reads runs
// through this package alone, and a test in harness, which sees both,
// keeps the two spellings equal.
const (
	// BackendADR is the persistent-memory backend the speedup figure is
	// about.
	BackendADR = "adr"
	// BackendBatched is etcd's own WAL behaviour, one of the speedup
	// figure's baselines.
	BackendBatched = "batched"
	// BackendFsync is one fdatasync per entry, the other baseline.
	BackendFsync = "fsync"
	// BackendEtcdWAL is the Backend of a point taken on real etcd: its own
	// WAL.
	BackendEtcdWAL = "etcd-wal"
	// BackendExternal is the Backend of a point taken on an external
	// cluster, whose log storage is not known.
	BackendExternal = "external"
)
