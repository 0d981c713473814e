package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/store"
	"github.com/adrbench/adrbench/store/tlsinfo"
)

// serveOptions are the flags of `adrbench serve`: etcd's names, units and
// defaults, plus --log-backend and every backend's own flags.
type serveOptions struct {
	name                string
	dataDir             string
	listenClientURLs    string
	advertiseClientURLs string
	listenPeerURLs      string
	advertisePeerURLs   string
	initialCluster      string
	initialClusterState string
	initialClusterToken string
	snapshotCount       uint64
	snapshotCatchUp     uint64
	heartbeatMs         uint
	electionMs          uint
	quotaBackendBytes   int64
	maxRequestBytes     uint
	maxTxnOps           uint
	logBackend          string
	logLevel            string
	enablePprof         bool
	diskProfile         string
	diskSyncLatency     time.Duration
	// allowNondurable lets serve run a log backend that is not durable.
	allowNondurable     bool
	unsafeStaleReads    bool
	initialCorruptCheck bool
	corruptCheckTime    time.Duration
	// client and peer are the TLS flags of the two ports; cipherSuites
	// and the TLS versions apply to both.
	client, peer                   tlsFlags
	peerAllowedCN, peerAllowedHost string
	cipherSuites                   []string
	tlsMinVersion, tlsMaxVersion   string
	auth                           authFlags
	// backends holds every backend's settings, bound to their flags.
	backends catalog.Configs

	// initialClusterSet is whether --initial-cluster was given; without it
	// the cluster is this member alone, as etcd does.
	initialClusterSet bool

	cfg      store.Config          // resolved by Validate
	registry *logbackends.Registry // built by Validate from backends
	entry    logbackends.Entry     // the log backend's, found by Validate
}

// flagAllowNondurable is serve's opt-in to a log backend that is not
// durable, in the spirit of etcd's --unsafe-no-fsync.
const flagAllowNondurable = "unsafe-allow-nondurable"

func (o *serveOptions) AddFlags(fs *pflag.FlagSet) {
	d := store.DefaultConfig()
	fs.StringVar(&o.name, "name", d.Name, "human-readable name for this member")
	fs.StringVar(&o.dataDir, "data-dir", d.DataDir, "path to the data directory")
	fs.StringVar(&o.listenClientURLs, "listen-client-urls", strings.Join(d.ListenClientURLs, ","), "comma-separated URLs to listen on for client traffic")
	fs.StringVar(&o.advertiseClientURLs, "advertise-client-urls", strings.Join(d.AdvertiseClientURLs, ","), "comma-separated client URLs to advertise to the rest of the cluster")
	fs.StringVar(&o.listenPeerURLs, "listen-peer-urls", strings.Join(d.ListenPeerURLs, ","), "comma-separated URLs to listen on for peer traffic")
	fs.StringVar(&o.advertisePeerURLs, "initial-advertise-peer-urls", strings.Join(d.AdvertisePeerURLs, ","), "comma-separated peer URLs of this member to advertise to the rest of the cluster")
	fs.StringVar(&o.initialCluster, "initial-cluster", store.FormatInitialCluster(d.InitialCluster),
		"initial cluster configuration for bootstrapping, name=url,... (default: --name with --initial-advertise-peer-urls)")
	fs.StringVar(&o.initialClusterState, "initial-cluster-state", d.InitialClusterState,
		`"new" to bootstrap, "existing" to restart a member from its data dir (only static clusters are supported)`)
	fs.StringVar(&o.initialClusterToken, "initial-cluster-token", d.InitialClusterToken, "initial cluster token, so that clusters bootstrapped with the same URLs get different ids")
	fs.Uint64Var(&o.snapshotCount, "snapshot-count", d.SnapshotCount, "number of committed transactions that trigger a snapshot")
	fs.Uint64Var(&o.snapshotCatchUp, "snapshot-catchup-entries", d.SnapshotCatchUpEntries, "number of entries kept after a snapshot for slow followers to catch up")
	fs.UintVar(&o.heartbeatMs, "heartbeat-interval", uint(d.HeartbeatInterval/time.Millisecond), "time (in milliseconds) of a heartbeat interval")
	fs.UintVar(&o.electionMs, "election-timeout", uint(d.ElectionTimeout/time.Millisecond), "time (in milliseconds) for an election to time out")
	fs.Int64Var(&o.quotaBackendBytes, "quota-backend-bytes", d.QuotaBackendBytes, "raise an alarm when the backend size exceeds this quota")
	fs.UintVar(&o.maxRequestBytes, "max-request-bytes", uint(d.MaxRequestBytes), "maximum client request size in bytes the server will accept")
	fs.UintVar(&o.maxTxnOps, "max-txn-ops", uint(d.MaxTxnOps), "maximum number of operations permitted in a transaction")
	fs.StringVar(&o.logBackend, "log-backend", d.LogBackend, logBackendHelp(o.backends.Registry()))
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.enablePprof, "enable-pprof", false, "serve runtime profiling data under /debug/pprof/ on the client URL")
	fs.StringVar(&o.diskProfile, "disk-profile", d.DiskProfile, "emulated disk whose sync latency is added to every log sync: "+strings.Join(diskprofile.Names(), ", ")+` ("native" adds none; others are labelled emulated)`)
	fs.DurationVar(&o.diskSyncLatency, "disk-sync-latency", 0, "fixed latency added to every log sync (emulated), instead of --disk-profile")
	fs.BoolVar(&o.allowNondurable, flagAllowNondurable, false, "run a --log-backend that is not durable (async, memory): it acknowledges writes a crash can lose, so a cluster on it breaks raft's stable-storage rule; for benchmarks only, as etcd's --unsafe-no-fsync")
	fs.BoolVar(&o.unsafeStaleReads, unsafeStaleReadsFlag, false,
		"FOR TESTS ONLY: followers answer linearizable reads from their own state without ReadIndex, which is NOT linearizable (the linearizability check must catch it)")
	_ = fs.MarkHidden(unsafeStaleReadsFlag)
	fs.BoolVar(&o.initialCorruptCheck, "experimental-initial-corrupt-check", false, "compare this member's key space with its peers' before serving, and refuse to start on a mismatch")
	fs.DurationVar(&o.corruptCheckTime, "experimental-corrupt-check-time", 0, "how often the leader compares the members' key spaces, raising a CORRUPT alarm on a mismatch (0 never)")
	o.addTLSFlags(fs)
	o.auth.AddFlags(fs, d)
	o.backends.AddFlags(fs)
}

// tlsFlags are one port's TLS flags, etcd's with or without "peer-".
type tlsFlags struct {
	certFile, keyFile, trustedCAFile string
	clientCertAuth, autoTLS          bool
}

func (f *tlsFlags) addFlags(fs *pflag.FlagSet, prefix, port string) {
	fs.StringVar(&f.certFile, prefix+"cert-file", "", "path to the "+port+" server TLS certificate (also presented as a client certificate when this member dials)")
	fs.StringVar(&f.keyFile, prefix+"key-file", "", "path to the "+port+" server TLS key")
	fs.StringVar(&f.trustedCAFile, prefix+"trusted-ca-file", "", "path to the CA bundle that verifies "+port+" certificates")
	fs.BoolVar(&f.clientCertAuth, prefix+"client-cert-auth", false, "require "+port+" clients to present a certificate --"+prefix+"trusted-ca-file verifies")
	fs.BoolVar(&f.autoTLS, prefix+"auto-tls", false, port+" TLS with a self-signed certificate made in the data directory (encrypts, authenticates nobody)")
}

func (f tlsFlags) info() tlsinfo.Info {
	return tlsinfo.Info{CertFile: f.certFile, KeyFile: f.keyFile, TrustedCAFile: f.trustedCAFile, ClientCertAuth: f.clientCertAuth, AutoTLS: f.autoTLS}
}

func (o *serveOptions) addTLSFlags(fs *pflag.FlagSet) {
	o.client.addFlags(fs, "", "client")
	o.peer.addFlags(fs, "peer-", "peer")
	fs.StringVar(&o.peerAllowedCN, "peer-cert-allowed-cn", "", "accept peers only with a certificate of this common name (with --peer-client-cert-auth)")
	fs.StringVar(&o.peerAllowedHost, "peer-cert-allowed-hostname", "", "accept peers only with a certificate valid for this host name (with --peer-client-cert-auth)")
	fs.StringSliceVar(&o.cipherSuites, "cipher-suites", nil, "comma-separated TLS 1.2 cipher suites for both ports, by Go's names (empty: Go's defaults)")
	fs.StringVar(&o.tlsMinVersion, "tls-min-version", "", "minimum TLS version for both ports: TLS1.2 or TLS1.3 (empty: TLS1.2)")
	fs.StringVar(&o.tlsMaxVersion, "tls-max-version", "", "maximum TLS version for both ports: TLS1.2 or TLS1.3 (empty: the highest)")
}

// tlsInfos resolves the TLS flags of both ports.
func (o *serveOptions) tlsInfos() (client, peer tlsinfo.Info) {
	client, peer = o.client.info(), o.peer.info()
	peer.AllowedCN, peer.AllowedHostname = o.peerAllowedCN, o.peerAllowedHost
	for _, i := range []*tlsinfo.Info{&client, &peer} {
		i.MinVersion, i.MaxVersion = o.tlsMinVersion, o.tlsMaxVersion
		if len(o.cipherSuites) > 0 {
			i.CipherSuites = o.cipherSuites
		}
	}
	return client, peer
}

// unsafeStaleReadsFlag is the hidden test-only switch that breaks
// linearizable reads on followers, so that tests can show the
// linearizability check catches a server that serves stale reads.
const unsafeStaleReadsFlag = "unsafe-test-stale-reads"

// logBackendHelp lists the backends and says which are unsafe, from their
// registry entries: a backend that is not durable acknowledges writes a
// crash can lose.
func logBackendHelp(r *logbackends.Registry) string {
	help := "raft log storage: one of " + strings.Join(r.Names(), ", ")
	var unsafe []string
	for _, e := range r.Entries() {
		if !e.Durable {
			unsafe = append(unsafe, fmt.Sprintf("%q: %s", e.Name, e.Saved))
		}
	}
	if len(unsafe) > 0 {
		help += " (unsafe, as not durable, refused without --" + flagAllowNondurable + ": " + strings.Join(unsafe, "; ") + ")"
	}
	return help
}

// Validate resolves the flags into a store.Config and checks it, without
// touching the file system beyond what store.Config.Validate reads.
func (o *serveOptions) Validate() error {
	cfg := store.DefaultConfig()
	cfg.Name = o.name
	cfg.DataDir = o.dataDir
	cfg.ListenClientURLs = splitURLs(o.listenClientURLs)
	cfg.AdvertiseClientURLs = splitURLs(o.advertiseClientURLs)
	cfg.ListenPeerURLs = splitURLs(o.listenPeerURLs)
	cfg.AdvertisePeerURLs = splitURLs(o.advertisePeerURLs)
	if o.initialClusterSet {
		members, err := store.ParseInitialCluster(o.initialCluster)
		if err != nil {
			return err
		}
		cfg.InitialCluster = members
	} else {
		cfg.InitialCluster = []store.Member{{Name: o.name, PeerURLs: cfg.AdvertisePeerURLs}}
	}
	cfg.InitialClusterState = o.initialClusterState
	cfg.InitialClusterToken = o.initialClusterToken
	cfg.SnapshotCount = o.snapshotCount
	cfg.SnapshotCatchUpEntries = o.snapshotCatchUp
	cfg.HeartbeatInterval = time.Duration(o.heartbeatMs) * time.Millisecond
	cfg.ElectionTimeout = time.Duration(o.electionMs) * time.Millisecond
	cfg.QuotaBackendBytes = o.quotaBackendBytes
	cfg.MaxRequestBytes = int(o.maxRequestBytes)
	cfg.MaxTxnOps = int(o.maxTxnOps)
	cfg.LogBackend = o.logBackend
	cfg.EnablePprof = o.enablePprof
	cfg.DiskProfile = o.diskProfile
	cfg.DiskSyncLatency = o.diskSyncLatency
	cfg.UnsafeStaleReads = o.unsafeStaleReads
	cfg.InitialCorruptCheck = o.initialCorruptCheck
	cfg.CorruptCheckTime = o.corruptCheckTime
	cfg.ClientTLS, cfg.PeerTLS = o.tlsInfos()
	o.auth.apply(&cfg)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := o.backends.Validate(); err != nil {
		return err
	}
	registry := o.backends.Registry()
	if names := registry.Names(); !slices.Contains(names, o.logBackend) {
		return fmt.Errorf("--log-backend: %w %q (known: %s)", logbackends.ErrUnknownBackend, o.logBackend, strings.Join(names, ", "))
	}
	entry, err := registry.Lookup(o.logBackend)
	if err != nil {
		return fmt.Errorf("--log-backend: %w", err)
	}
	if !entry.Durable && !o.allowNondurable {
		return fmt.Errorf("--log-backend %s: %w (%s): a crash can lose acknowledged writes; pass --%s to run it anyway, as benchmarks do",
			entry.Name, errNondurable, entry.Saved, flagAllowNondurable)
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
		return err
	}
	o.cfg, o.registry, o.entry = cfg, registry, entry
	return nil
}

// startupWarnings are the lines serve logs at WARN before the member
// starts, one for each part of the configuration that is not durable or
// is emulated, naming the flag and what it costs. The log backend adds
// its own when it opens (the adr backend's emulated region, say).
func (o *serveOptions) startupWarnings() []string {
	var out []string
	if !o.entry.Durable {
		out = append(out, fmt.Sprintf("--log-backend %s is not durable (%s): a crash can lose writes this member acknowledged, and a cluster on it breaks raft's stable-storage rule; running because of --%s",
			o.entry.Name, o.entry.Saved, flagAllowNondurable))
	}
	if o.diskSyncLatency > 0 {
		out = append(out, fmt.Sprintf("--disk-sync-latency %v: every log sync is slowed by that much to emulate a slower disk: figures measured are labelled emulated", o.diskSyncLatency))
	} else if p, err := diskprofile.Lookup(o.diskProfile); err == nil && p.Emulated {
		out = append(out, fmt.Sprintf("--disk-profile %s: every log sync is slowed to emulate that disk (%v added): figures measured are labelled emulated", p.Name, p.SyncLatency))
	}
	return out
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// splitURLs splits etcd's comma-separated URL lists; an empty entry is kept
// so that Validate reports it instead of silently dropping it.
func splitURLs(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// newServeCmd binds backends, every backend's default settings, to serve's
// flags; the registry the member opens its log with is built from them once
// the flags are parsed.
func newServeCmd(backends catalog.Configs) *cobra.Command {
	o := &serveOptions{backends: backends}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run one member of an etcd-compatible cluster (etcd's flags)",
		Long: "Run one member of an etcd-compatible replicated key-value store. The flags are\n" +
			"etcd's: with none it runs a one-member cluster on 127.0.0.1:2379 (clients) and\n" +
			"127.0.0.1:2380 (peers) with its data in ./default.adrbench. SIGINT or SIGTERM\n" +
			"stops it cleanly.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.initialClusterSet = cmd.Flags().Changed("initial-cluster")
			if err := o.Validate(); err != nil {
				return err
			}
			return o.run(cmd)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// run serves until SIGINT, SIGTERM, the command's context ends, or the
// server stops on its own.
func (o *serveOptions) run(cmd *cobra.Command) error {
	if err := checkDataDir(o.cfg.DataDir); err != nil {
		return err
	}
	level, _ := parseLogLevel(o.logLevel) // checked by Validate
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	for _, w := range o.startupWarnings() {
		logger.Warn(w, "member", o.cfg.Name)
	}
	if cur, want := runtime.GOMAXPROCS(0), serveProcs(runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")); want != cur {
		runtime.GOMAXPROCS(want)
		logger.Info("GOMAXPROCS raised: the raft log's fdatasync must not hold the only P",
			"member", o.cfg.Name, "from", cur, "to", want)
	}
	srv, err := store.NewServer(o.cfg, o.registry, store.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("start member %q: %w", o.cfg.Name, err)
	}
	if o.cfg.UnsafeStaleReads {
		logger.Warn("--" + unsafeStaleReadsFlag + " is set: followers serve stale reads; this member is NOT linearizable and is for tests only")
	}
	logger.Info("serving",
		"member", o.cfg.Name,
		"clients", strings.Join(o.cfg.ListenClientURLs, ","),
		"peers", strings.Join(o.cfg.ListenPeerURLs, ","),
		"log-backend", o.cfg.LogBackend,
		"data-dir", o.cfg.DataDir)

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		stop() // a second signal kills the process the default way
		logger.Info("stopping", "member", o.cfg.Name)
		if err := srv.Close(); err != nil {
			return fmt.Errorf("stop member %q: %w", o.cfg.Name, err)
		}
		return nil
	case <-srv.Done():
		err := srv.Err()
		_ = srv.Close() // the server already failed; err says why
		return fmt.Errorf("member %q stopped: %w", o.cfg.Name, err)
	}
}

// minServeProcs is the fewest Ps serve runs with. The raft loop blocks its
// thread in fdatasync on every Save; the runtime takes the P back from a
// thread blocked in a syscall only when its monitor next looks (20 µs to
// 10 ms later), so with a single P (a one-CPU affinity mask or cgroup
// limit) the whole member stops for most of every sync: no request is
// read, no proposal queued, and the next Save carries one or two entries.
// A second P lets the rest of the member run while the loop waits on the
// disk, even when both share one CPU.
const minServeProcs = 2

// serveProcs returns the GOMAXPROCS serve runs with, given the runtime's
// current value and the GOMAXPROCS environment variable: a value the
// runtime took from it (a positive integer) is kept, as is a current value
// of at least minServeProcs.
func serveProcs(current int, env string) int {
	if n, err := strconv.Atoi(env); (err == nil && n > 0) || current >= minServeProcs {
		return current
	}
	return minServeProcs
}

// checkDataDir creates dir if needed, durably, and proves it is
// writable, so that a bad --data-dir fails with one clear line before
// anything starts.
func checkDataDir(dir string) error {
	if err := store.CreateDataDir(dir); err != nil {
		return fmt.Errorf("--data-dir: %w: %s: %v", errDataDir, dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("--data-dir: %w: %s: %v", errDataDir, dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("probe"))
	cerr := f.Close()
	rerr := os.Remove(name)
	for _, err := range []error{werr, cerr, rerr} {
		if err != nil {
			return fmt.Errorf("--data-dir: %w: %s: %v", errDataDir, filepath.Clean(dir), err)
		}
	}
	return nil
}
