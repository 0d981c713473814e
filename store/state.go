package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/raft/v3"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/vfs"
	"github.com/adrbench/adrbench/store/mvcc"
	"github.com/adrbench/adrbench/store/watch"
)

// memberState is what a member keeps between requests: its raft log, the
// state machine and the watch hub over it, the lessor's expiry timers and
// the membership. It is opened first and closed last.
type memberState struct {
	// dir is the member's directory in the data dir.
	dir string

	backend logbackends.Backend
	kv      *mvcc.Store
	hub     *watch.Hub
	lessor  *lessor
	members *members
}

// stateDeps is what opening a member's state needs besides its config.
type stateDeps struct {
	backends *logbackends.Registry
	log      *slog.Logger
	// afterStep, if set, is told of each step of a first boot as it
	// completes (tests crash the member there).
	afterStep func(bootStep)
	// beforeCommit, if set, is the state machine's
	// mvcc.Config.BeforeCommit (tests make the database fail with it).
	beforeCommit func() error
}

// openState checks that the data dir belongs to member, then opens the
// raft log (bootstrapping it on a first boot), the state machine and its
// watch hub, checks the one against the other, and reloads the lessor and
// the published member attributes from the state machine. A first boot
// ends by writing the member's identity (see bootStep). On error nothing
// is left open.
func openState(cfg Config, member identity, mems *members, deps stateDeps) (_ *memberState, err error) {
	step, log := deps.afterStep, deps.log
	if step == nil {
		step = func(bootStep) {}
	}
	dir := filepath.Join(cfg.DataDir, "member")
	fresh, err := checkIdentity(dir, member)
	if err != nil {
		return nil, err
	}
	if fresh {
		if _, err := os.Stat(dir); err == nil {
			log.Warn("finishing a first boot that did not complete", "dir", dir)
		} else if cfg.InitialClusterState == "existing" {
			return nil, fmt.Errorf("--initial-cluster-state existing: no data in %s to restart from (adding members to a running cluster is not supported)", cfg.DataDir)
		}
	}
	snapDir := filepath.Join(dir, "snap")
	for _, d := range []string{snapDir, LogDir(cfg.DataDir)} {
		if err := makeDirs(d, cfg.DataDir); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
	}
	step(bootDirs)
	backend, err := openLogBackend(cfg, deps.backends, member, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = backend.Close()
		}
	}()
	step(bootLog)
	if err := prepareLog(backend, mems, dir, fresh); err != nil {
		return nil, err
	}
	step(bootBootstrap)
	kv, hub, err := openStateMachine(cfg, snapDir, backend, !fresh, deps)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			hub.Close()
			_ = kv.Close()
		}
	}()
	step(bootDatabase)
	published, err := kv.Members()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	for _, m := range published {
		mems.setAttrs(m)
	}
	if fresh {
		if err := writeIdentity(dir, member); err != nil {
			return nil, err
		}
	}
	step(bootIdentity)
	ls := newLessor(minLeaseTTL(cfg), time.Now)
	ls.reload(kv.Leases())
	return &memberState{
		dir:     dir,
		backend: backend,
		kv:      kv,
		hub:     hub,
		lessor:  ls,
		members: mems,
	}, nil
}

// prepareLog makes sure the raft log can start raft: a member that never
// finished its first boot gets the bootstrap saved; a member that did
// must have a log.
func prepareLog(b logbackends.Backend, mems *members, dir string, fresh bool) error {
	if fresh {
		return bootstrapLog(b, mems.ids(), dir)
	}
	empty, err := logIsEmpty(b)
	if err != nil {
		return err
	}
	if empty {
		return fmt.Errorf("%w: %s holds the identity of a member that took part in its cluster, but its raft log is empty: the log was lost, and with it the member's vote and the entries it acknowledged", ErrMemberMismatch, dir)
	}
	return nil
}

// openLogBackend opens the member's raft log in the backend cfg names,
// telling it whose log it is (a backend that keeps part of the log
// outside the directory, as adr does in its region, records the ids
// there to recognise its own).
func openLogBackend(cfg Config, backends *logbackends.Registry, member identity, log *slog.Logger) (logbackends.Backend, error) {
	env := logbackends.Env{Dir: LogDir(cfg.DataDir), ClusterID: member.cluster, MemberID: member.member, Logger: log}
	if p, _ := cfg.diskProfile(); p.Emulated {
		env.FS = diskprofile.Wrap(vfs.OS{}, p)
	}
	b, err := backends.Open(cfg.LogBackend, env)
	if err != nil {
		return nil, fmt.Errorf("open log backend %q: %w", cfg.LogBackend, err)
	}
	return b, nil
}

// openStateMachine opens the MVCC store in snapDir and the watch hub over
// it, once the database has proved it can go on from the raft log: its
// consistent index must be at least the log's snapshot index, since raft
// hands back only the entries after that snapshot. A database missing
// while the log still holds every entry is rebuilt from the log, with a
// warning when the member had booted before (hadBooted). The name
// of a database bbolt creates is made durable: bbolt syncs the file, not
// its directory.
func openStateMachine(cfg Config, snapDir string, backend logbackends.Backend, hadBooted bool, deps stateDeps) (*mvcc.Store, *watch.Hub, error) {
	path := filepath.Join(snapDir, "db")
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	snap, err := backend.Snapshot()
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot: %w", err)
	}
	snapIndex := snap.GetMetadata().GetIndex()
	if missing && snapIndex > 0 {
		return nil, nil, databaseBehind(path, "does not exist", 0, snapIndex)
	}
	// The store tells the hub of every revision it applies, and the hub
	// reads the store's history, so the hub is made just after the store.
	// Nothing is applied before it exists: the applier starts last.
	var hub *watch.Hub
	kv, err := mvcc.Open(mvcc.Config{
		Path:          path,
		BatchInterval: cfg.BackendBatchInterval,
		BatchLimit:    cfg.BackendBatchLimit,
		QuotaBytes:    cfg.QuotaBackendBytes,
		BeforeCommit:  deps.beforeCommit,
	}, func(rev int64, evs []*mvccpb.Event) { hub.Notify(rev, evs) })
	if err != nil {
		return nil, nil, fmt.Errorf("open state machine: %w", err)
	}
	if err := (vfs.OS{}).SyncDir(snapDir); err != nil {
		_ = kv.Close()
		return nil, nil, fmt.Errorf("open state machine: fsync %s: %w", snapDir, err)
	}
	if ci := kv.ConsistentIndex(); ci < snapIndex {
		_ = kv.Close()
		return nil, nil, databaseBehind(path, "is at", ci, snapIndex)
	}
	if missing && hadBooted {
		deps.log.Warn("the state machine's database did not exist: rebuilding it from the raft log, which holds every entry", "db", path)
	}
	wcfg := watch.DefaultConfig()
	wcfg.MaxResponseBytes = cfg.MaxRequestBytes
	wcfg.IsCompacted = func(err error) bool { return errors.Is(err, mvcc.ErrCompacted) }
	hub = watch.NewHub(kv, wcfg)
	return kv, hub, nil
}

// databaseBehind explains ErrDatabaseBehind: raft hands back only the
// entries after the log's snapshot, so a database below it would miss
// the ones in between for good.
func databaseBehind(path, state string, ci, snapIndex uint64) error {
	at := fmt.Sprintf("%s raft index %d (its consistent index)", state, ci)
	if state == "does not exist" {
		at = state
	}
	return fmt.Errorf("%w: the database %s %s, but the raft log was compacted behind its snapshot at index %d, so entries %d..%d can no longer be replayed into it: restore this member's database from a backup, or remove its data dir, restart the current leader (so that a new term makes it forget how far this member had got) and start the member with --initial-cluster-state new (it then takes the leader's snapshot, but has forgotten its vote: do that only while the rest of the cluster has a quorum)",
		ErrDatabaseBehind, path, at, snapIndex, ci+1, snapIndex)
}

// close closes the hub, the state machine and the log, and returns the
// first error.
func (st *memberState) close() error {
	st.hub.Close()
	var first error
	if err := st.kv.Close(); err != nil {
		first = fmt.Errorf("close state machine: %w", err)
	}
	if err := st.backend.Close(); err != nil && first == nil {
		first = fmt.Errorf("close log backend: %w", err)
	}
	return first
}

func minLeaseTTL(cfg Config) int64 {
	// etcd: a lease must outlive an election, 1.5 election timeouts.
	d := cfg.ElectionTimeout * 3 / 2
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}

func logIsEmpty(b logbackends.Backend) (bool, error) {
	hs, _, err := b.InitialState()
	if err != nil {
		return false, fmt.Errorf("read initial state: %w", err)
	}
	last, err := b.LastIndex()
	if err != nil {
		return false, fmt.Errorf("read last index: %w", err)
	}
	snap, err := b.Snapshot()
	if err != nil {
		return false, fmt.Errorf("read snapshot: %w", err)
	}
	return raft.IsEmptyHardState(hs) && last == 0 && raft.IsEmptySnap(snap), nil
}

// identity names a member and its cluster.
type identity struct {
	name    string
	member  uint64
	cluster uint64
}

// identityOf derives the member's and the cluster's ids from the flags, as
// etcd does, so that the same flags give the same ids on every start.
func identityOf(cfg Config, mems *members) identity {
	return identity{
		name:    cfg.Name,
		member:  memberID(cfg.AdvertisePeerURLs, cfg.InitialClusterToken),
		cluster: clusterID(mems.ids(), cfg.InitialClusterToken),
	}
}

// identityRecord is what a data dir records about the member that owns it.
type identityRecord struct {
	Name      string `json:"name"`
	MemberID  string `json:"member_id"`
	ClusterID string `json:"cluster_id"`
}

func (id identity) record() identityRecord {
	return identityRecord{Name: id.name, MemberID: fmt.Sprintf("%x", id.member), ClusterID: fmt.Sprintf("%x", id.cluster)}
}

// checkIdentity makes sure the member dir, if it has an identity, belongs
// to member. It reports whether it has none: a first boot, or one that
// did not finish.
func checkIdentity(dir string, member identity) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("--data-dir: %w", err)
	}
	var id identityRecord
	if err := json.Unmarshal(b, &id); err != nil {
		return false, fmt.Errorf("--data-dir: %s: %w", filepath.Join(dir, "identity.json"), err)
	}
	if want := member.record(); id != want {
		return false, fmt.Errorf("%w: %s holds member %s (%s) of cluster %s, the flags describe member %s (%s) of cluster %s",
			ErrMemberMismatch, dir, id.Name, id.MemberID, id.ClusterID, want.Name, want.MemberID, want.ClusterID)
	}
	return false, nil
}

// writeIdentity records id in dir, durably: once it is there, the dir
// belongs to that member.
func writeIdentity(dir string, id identity) error {
	b, err := json.Marshal(id.record())
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "identity.json.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "identity.json")); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	return vfs.OS{}.SyncDir(dir)
}
