package store

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// fresh is set when dir held no identity: the member is new.
	fresh bool
	// emptyLog is set when the raft log holds nothing: raft bootstraps.
	emptyLog bool

	backend logbackends.Backend
	kv      *mvcc.Store
	hub     *watch.Hub
	lessor  *lessor
	members *members
}

// openState checks that the data dir belongs to member,
// then opens the raft log, the state machine and its watch hub, and
// reloads the lessor and the published member attributes from the state
// machine. The log backend logs to log what an operator must know about
// its medium. On error nothing is left open.
func openState(cfg Config, backends *logbackends.Registry, member identity, mems *members, log *slog.Logger) (_ *memberState, err error) {
	dir := filepath.Join(cfg.DataDir, "member")
	fresh, err := checkIdentity(dir, member)
	if err != nil {
		return nil, err
	}
	backend, err := openLogBackend(cfg, backends, member, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = backend.Close()
		}
	}()
	emptyLog, err := logIsEmpty(backend)
	if err != nil {
		return nil, err
	}
	if emptyLog && !fresh {
		return nil, fmt.Errorf("%w: %s has an identity but no raft log", ErrMemberMismatch, dir)
	}
	if emptyLog && cfg.InitialClusterState == "existing" {
		return nil, fmt.Errorf("--initial-cluster-state existing: no data in %s to restart from (adding members to a running cluster is not supported)", cfg.DataDir)
	}
	kv, hub, err := openStateMachine(cfg, dir)
	if err != nil {
		return nil, err
	}
	published, err := kv.Members()
	if err != nil {
		hub.Close()
		_ = kv.Close()
		return nil, fmt.Errorf("read members: %w", err)
	}
	for _, m := range published {
		mems.setAttrs(m)
	}
	ls := newLessor(minLeaseTTL(cfg), time.Now)
	ls.reload(kv.Leases())
	return &memberState{
		dir:      dir,
		fresh:    fresh,
		emptyLog: emptyLog,
		backend:  backend,
		kv:       kv,
		hub:      hub,
		lessor:   ls,
		members:  mems,
	}, nil
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

// openStateMachine opens the MVCC store in the member's directory and the
// watch hub over it.
func openStateMachine(cfg Config, dir string) (*mvcc.Store, *watch.Hub, error) {
	snapDir := filepath.Join(dir, "snap")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", snapDir, err)
	}
	// The store tells the hub of every revision it applies, and the hub
	// reads the store's history, so the hub is made just after the store.
	// Nothing is applied before it exists: the applier starts last.
	var hub *watch.Hub
	kv, err := mvcc.Open(mvcc.Config{
		Path:          filepath.Join(snapDir, "db"),
		BatchInterval: cfg.BackendBatchInterval,
		BatchLimit:    cfg.BackendBatchLimit,
		QuotaBytes:    cfg.QuotaBackendBytes,
	}, func(rev int64, evs []*mvccpb.Event) { hub.Notify(rev, evs) })
	if err != nil {
		return nil, nil, fmt.Errorf("open state machine: %w", err)
	}
	wcfg := watch.DefaultConfig()
	wcfg.MaxResponseBytes = cfg.MaxRequestBytes
	wcfg.IsCompacted = func(err error) bool { return errors.Is(err, mvcc.ErrCompacted) }
	hub = watch.NewHub(kv, wcfg)
	return kv, hub, nil
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

// checkIdentity makes sure the member dir, if it has data, belongs to
// member. It reports whether the dir is new.
func checkIdentity(dir string, member identity) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("--data-dir: %w", err)
		}
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
