package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/results"
)

// Target names: the run schema's (results.Point.Target).
const (
	TargetInproc   = results.TargetInproc
	TargetProcess  = results.TargetProcess
	TargetEtcd     = results.TargetEtcd
	TargetExternal = results.TargetExternal
)

// Targets lists the targets StartCluster knows.
func Targets() []string { return []string{TargetInproc, TargetProcess, TargetEtcd, TargetExternal} }

// Cluster is a running cluster to drive.
type Cluster interface {
	// Endpoints are the members' client URLs, member 0 first.
	Endpoints() []string
	// Close stops what the target started; an external cluster is left
	// alone.
	Close() error
}

// ServerCPUer is a Cluster whose servers run in processes of their own, so
// their CPU time can be told apart from the generator's.
type ServerCPUer interface {
	ServerCPU() (time.Duration, error)
}

// ClusterConfig says which cluster to start or reach.
type ClusterConfig struct {
	Target     string   `yaml:"target" json:"target"`
	Nodes      int      `yaml:"nodes" json:"nodes"`
	LogBackend string   `yaml:"log_backend" json:"log_backend"` // inproc and process
	Endpoints  []string `yaml:"endpoints" json:"endpoints"`     // external only
	// DataDir holds the members' data directories; "" means a temporary
	// directory removed on Close.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// NetDelay, NetJitter and NetLoss are injected on every peer link, in
	// each direction (so a round trip costs twice NetDelay): by the
	// in-process network for inproc, by a delaying TCP proxy in front of
	// every member's peer port for process and etcd. Loss is inproc only:
	// a proxy cannot drop bytes of a TCP stream honestly.
	NetDelay  time.Duration `yaml:"net_delay" json:"net_delay"`
	NetJitter time.Duration `yaml:"net_jitter" json:"net_jitter"`
	NetLoss   float64       `yaml:"net_loss" json:"net_loss"`
	// EtcdBinary is the etcd executable; "" means "etcd" from PATH.
	EtcdBinary string `yaml:"etcd_binary" json:"etcd_binary"`
	// ServeBinary is the adrbench executable the process target runs as
	// `serve`; "" means this program (os.Executable), right when the
	// harness runs inside adrbench.
	ServeBinary string `yaml:"serve_binary" json:"serve_binary"`
	// DiskProfile is added to every log sync of inproc and process members
	// (see logbackends/diskprofile); "" or "native" adds nothing.
	DiskProfile string `yaml:"disk_profile" json:"disk_profile"`
	// SnapshotCount, HeartbeatInterval and ElectionTimeout are given to
	// every member, ours and etcd's alike, so a comparison is fair.
	SnapshotCount     uint64        `yaml:"snapshot_count" json:"snapshot_count"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval"`
	ElectionTimeout   time.Duration `yaml:"election_timeout" json:"election_timeout"`
	// StartTimeout bounds waiting for the members to elect a leader.
	StartTimeout time.Duration `yaml:"start_timeout" json:"start_timeout"`
	Logger       *slog.Logger  `yaml:"-" json:"-"`
	// AuthUser and AuthPassword, when AuthUser is set, make the clients
	// log in with etcd's authentication. For the targets the harness
	// starts the user must be root: once the members have a leader the
	// harness adds it with the root role and enables authentication. An
	// external cluster must have the user already. The password is never
	// written into results.
	AuthUser     string `yaml:"auth_user" json:"auth_user"`
	AuthPassword string `yaml:"auth_password" json:"-"`

	// The fields below prepare process and etcd members for fault
	// injection; benchmarks leave them unset.

	// PeerCuts puts a proxy in front of every member's peer port even
	// without delay, so that peer links can be cut (Partitioner).
	PeerCuts bool `yaml:"-" json:"-"`
	// DiskStalls runs the members' data directories on a FUSE
	// pass-through file system (internal/lossyfs) whose syncs can be
	// slowed while they run (DiskStaller). It needs FUSE.
	DiskStalls bool `yaml:"-" json:"-"`
	// ServeFlags are added to the flags of every `adrbench serve` member
	// (process only).
	ServeFlags []string `yaml:"-" json:"-"`

	// TLS starts process and etcd members with client and peer TLS and
	// client certificates required on both ports, from a CA and
	// certificates the harness makes in the members' directory, and
	// reaches them over TLS; for external it reaches the endpoints over
	// TLS with CACert, and Cert and Key when the cluster requires client
	// certificates.
	TLS    bool   `yaml:"tls" json:"tls"`
	CACert string `yaml:"cacert" json:"cacert"` // external only
	Cert   string `yaml:"cert" json:"cert"`     // external only
	Key    string `yaml:"key" json:"key"`       // external only
}

// DefaultClusterConfig is one inproc member on the batched backend with
// etcd's default timing.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{
		Target:            TargetInproc,
		Nodes:             1,
		LogBackend:        batched.Name,
		SnapshotCount:     100000,
		HeartbeatInterval: 100 * time.Millisecond,
		ElectionTimeout:   time.Second,
		StartTimeout:      30 * time.Second,
	}
}

// Validate names the first bad field of c.
func (c ClusterConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if !slices.Contains(Targets(), c.Target) {
		return bad("target %q (known: %s)", c.Target, strings.Join(Targets(), ", "))
	}
	switch {
	case c.Target == TargetExternal && len(c.Endpoints) == 0:
		return bad("target external needs endpoints")
	case c.Target != TargetExternal && len(c.Endpoints) > 0:
		return bad("endpoints are for target external, not %s", c.Target)
	case c.Target != TargetExternal && (c.Nodes < 1 || c.Nodes > 15):
		return bad("nodes %d not in 1..15", c.Nodes)
	case c.NetDelay < 0 || c.NetJitter < 0 || !(c.NetLoss >= 0 && c.NetLoss <= 1):
		return bad("net delay %v, jitter %v, loss %v", c.NetDelay, c.NetJitter, c.NetLoss)
	case c.Target == TargetExternal && (c.NetDelay > 0 || c.NetJitter > 0 || c.NetLoss > 0):
		return bad("net_delay, net_jitter and net_loss need members the harness starts, not target external")
	case c.Target != TargetInproc && c.NetLoss > 0:
		// A user-space proxy cannot lose bytes of a TCP stream and have
		// the kernel retransmit them; faking it would be dishonest.
		return bad("net_loss %v: loss is only injected for target inproc; the TCP proxy of target %s can delay but not drop", c.NetLoss, c.Target)
	case c.Target == TargetProcess && c.LogBackend == "":
		return bad("target process needs a log_backend")
	case c.HeartbeatInterval <= 0 || c.ElectionTimeout < 5*c.HeartbeatInterval:
		return bad("heartbeat %v, election timeout %v: want timeout >= 5 heartbeats", c.HeartbeatInterval, c.ElectionTimeout)
	case (c.Target == TargetEtcd || c.Target == TargetExternal) && c.DiskProfile != "" && c.DiskProfile != "native":
		// Real etcd's WAL cannot be slowed from here; an unequal
		// comparison is worse than none.
		return bad("disk profile %q is only implemented for targets inproc and process", c.DiskProfile)
	case c.StartTimeout <= 0:
		return bad("start timeout %v", c.StartTimeout)
	case (c.PeerCuts || c.DiskStalls) && c.Target != TargetProcess && c.Target != TargetEtcd:
		return bad("peer cuts and disk stalls need member processes: target process or etcd, not %s", c.Target)
	case len(c.ServeFlags) > 0 && c.Target != TargetProcess:
		return bad("serve flags are for target process, not %s", c.Target)
	case c.TLS && c.PeerCuts:
		// The proxies tell a connection's sender from its first bytes,
		// which TLS hides: the cuts would silently cut nothing.
		return bad("peer cuts cannot be made with tls: the peer proxies cannot see which member a TLS connection comes from")
	case c.TLS && c.Target == TargetInproc:
		return bad("tls needs members on TCP: target process, etcd or external, not inproc")
	case (c.CACert != "" || c.Cert != "" || c.Key != "") && c.Target != TargetExternal:
		return bad("cacert, cert and key are for target external; the harness makes the certificates of target %s", c.Target)
	case c.Target == TargetExternal && c.TLS && c.CACert == "":
		return bad("tls with target external needs cacert, the CA bundle that verifies the members")
	case c.Target == TargetExternal && !c.TLS && c.CACert != "":
		return bad("cacert is given but tls is off")
	case (c.Cert == "") != (c.Key == ""):
		return bad("cert and key go together (cert %q, key %q)", c.Cert, c.Key)
	case c.AuthUser == "" && c.AuthPassword != "":
		return bad("auth_password without auth_user")
	case c.AuthUser != "" && c.AuthPassword == "":
		return bad("auth_user %q without auth_password", c.AuthUser)
	case c.AuthUser != "" && c.AuthUser != rootUser && c.Target != TargetExternal:
		return bad("auth_user %q: target %s enables authentication with the root user, so auth_user must be %s", c.AuthUser, c.Target, rootUser)
	}
	return nil
}

// rootUser is etcd's user that authentication is enabled with.
const rootUser = "root"

// enableAuth adds the root user with the root role and enables
// authentication, as an operator does with etcdctl.
func enableAuth(ctx context.Context, endpoints []string, tc *tls.Config, password string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("%w: dial %v: %w", ErrTarget, endpoints, err)
	}
	defer cli.Close()
	steps := []struct {
		what string
		do   func() error
	}{
		{"add user root", func() error { _, err := cli.UserAdd(ctx, rootUser, password); return err }},
		{"add role root", func() error { _, err := cli.RoleAdd(ctx, rootUser); return err }},
		{"grant role root", func() error { _, err := cli.UserGrantRole(ctx, rootUser, rootUser); return err }},
		{"enable authentication", func() error { _, err := cli.AuthEnable(ctx); return err }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrTarget, st.what, err)
		}
	}
	return nil
}

// StartCluster starts (or, for external, reaches) the cluster of cfg and
// returns when it has a leader. backends opens the inproc members' log
// backends (it is required there) and, for inproc and process, removes
// what they keep outside a temporary data directory when the cluster is
// closed.
func StartCluster(ctx context.Context, cfg ClusterConfig, backends *logbackends.Registry) (Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	var (
		c   Cluster
		err error
	)
	switch cfg.Target {
	case TargetInproc:
		c, err = startInproc(ctx, cfg, backends)
	case TargetProcess:
		c, err = startProcess(ctx, cfg, backends)
	case TargetEtcd:
		c, err = startEtcd(ctx, cfg)
	default:
		var tc *tls.Config
		if tc, err = externalTLS(cfg); err == nil {
			c = external{endpoints: cfg.Endpoints, tls: tc}
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := FindLeaderTLS(ctx, c.Endpoints(), ClientTLS(c)); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.AuthUser != "" && cfg.Target != TargetExternal {
		if err := enableAuth(ctx, c.Endpoints(), ClientTLS(c), cfg.AuthPassword); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

type external struct {
	endpoints []string
	tls       *tls.Config // nil without TLS
}

func (e external) Endpoints() []string    { return e.endpoints }
func (e external) Close() error           { return nil }
func (e external) ClientTLS() *tls.Config { return e.tls }

// FindLeader asks the members for their status until one names a leader that
// is among them, and returns that member's endpoint.
func FindLeader(ctx context.Context, endpoints []string) (string, error) {
	return FindLeaderTLS(ctx, endpoints, nil)
}

// FindLeaderTLS is FindLeader for members reached with tc (nil: without
// TLS).
func FindLeaderTLS(ctx context.Context, endpoints []string, tc *tls.Config) (string, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return "", fmt.Errorf("%w: dial %v: %w", ErrTarget, endpoints, err)
	}
	defer cli.Close()
	var last error
	for {
		for _, ep := range endpoints {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := cli.Status(sctx, ep)
			cancel()
			if err != nil {
				last = err
				continue
			}
			if st.Leader != 0 && st.Leader == st.Header.MemberId {
				return ep, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w among %v: %v (last error: %v)", ErrNoLeader, endpoints, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
