package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/store/tlsinfo"
)

// ErrInvalidConfig is wrapped by every error Validate and
// ParseInitialCluster return; errors.As with *ConfigError gives the flag.
var ErrInvalidConfig = errors.New("invalid config")

// ConfigError names the setting that is wrong by its etcd flag name (or by
// its field name when it has no flag), so a command line can print one line
// a user can act on.
type ConfigError struct {
	Flag string // e.g. "--initial-cluster", or "BackendBatchLimit"
	Msg  string
}

func (e *ConfigError) Error() string { return e.Flag + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func configErr(flag, format string, args ...any) error {
	return &ConfigError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// maxElectionTimeout is etcd's upper bound: longer timeouts make a dead
// leader go unnoticed for too long to be a useful setting.
const maxElectionTimeout = 50 * time.Second

// Validate checks c and returns the first problem it finds, naming the flag.
// It never writes anything; with --initial-cluster-state=existing it reads
// the data dir to check that there is a member to restart, because we
// support only static clusters (no runtime member add).
func (c Config) Validate() error {
	if c.Name == "" {
		return configErr("--name", "must not be empty")
	}
	if c.DataDir == "" {
		return configErr("--data-dir", "must not be empty")
	}
	urlLists := []struct {
		flag string
		urls []string
	}{
		{"--listen-client-urls", c.ListenClientURLs},
		{"--advertise-client-urls", c.AdvertiseClientURLs},
		{"--listen-peer-urls", c.ListenPeerURLs},
		{"--initial-advertise-peer-urls", c.AdvertisePeerURLs},
	}
	for _, l := range urlLists {
		if len(l.urls) == 0 {
			return configErr(l.flag, "needs at least one URL")
		}
		for _, u := range l.urls {
			if err := checkURL(u); err != nil {
				return configErr(l.flag, "%v", err)
			}
		}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.HeartbeatInterval <= 0 {
		return configErr("--heartbeat-interval", "must be positive, got %v", c.HeartbeatInterval)
	}
	if c.ElectionTimeout < 5*c.HeartbeatInterval {
		return configErr("--election-timeout", "%v must be at least 5 times --heartbeat-interval (%v)",
			c.ElectionTimeout, c.HeartbeatInterval)
	}
	if c.ElectionTimeout > maxElectionTimeout {
		return configErr("--election-timeout", "%v is too long; it must be at most %v", c.ElectionTimeout, maxElectionTimeout)
	}
	if c.SnapshotCount == 0 {
		return configErr("--snapshot-count", "must be positive")
	}
	if c.SnapshotCatchUpEntries == 0 {
		return configErr("--snapshot-catchup-entries", "must be positive")
	}
	if c.QuotaBackendBytes <= 0 {
		return configErr("--quota-backend-bytes", "must be positive, got %d", c.QuotaBackendBytes)
	}
	if c.MaxRequestBytes <= 0 {
		return configErr("--max-request-bytes", "must be positive, got %d", c.MaxRequestBytes)
	}
	if c.MaxTxnOps <= 0 {
		return configErr("--max-txn-ops", "must be positive, got %d", c.MaxTxnOps)
	}
	if c.LogBackend == "" {
		return configErr("--log-backend", "must name a log backend")
	}
	if _, err := c.diskProfile(); err != nil {
		return err
	}
	if c.BackendBatchInterval <= 0 {
		return configErr("BackendBatchInterval", "must be positive, got %v", c.BackendBatchInterval)
	}
	if c.BackendBatchLimit <= 0 {
		return configErr("BackendBatchLimit", "must be positive, got %d", c.BackendBatchLimit)
	}
	if c.CorruptCheckTime < 0 {
		return configErr("--experimental-corrupt-check-time", "must not be negative, got %v", c.CorruptCheckTime)
	}
	return c.validateAuth()
}

// validateCluster checks the initial cluster and this member's place in it.
func (c Config) validateCluster() error {
	const flag = "--initial-cluster"
	if len(c.InitialCluster) == 0 {
		return configErr(flag, "must name at least one member")
	}
	names := map[string]bool{}
	owner := map[string]string{} // peer URL -> member name
	for _, m := range c.InitialCluster {
		if m.Name == "" {
			return configErr(flag, "a member has no name")
		}
		if names[m.Name] {
			return configErr(flag, "member %q is listed twice", m.Name)
		}
		names[m.Name] = true
		if len(m.PeerURLs) == 0 {
			return configErr(flag, "member %q has no URL", m.Name)
		}
		for _, u := range m.PeerURLs {
			if err := checkURL(u); err != nil {
				return configErr(flag, "member %q: %v", m.Name, err)
			}
			if other, dup := owner[u]; dup && other != m.Name {
				return configErr(flag, "members %q and %q share peer URL %s", other, m.Name, u)
			}
			owner[u] = m.Name
		}
	}
	i := slices.IndexFunc(c.InitialCluster, func(m Member) bool { return m.Name == c.Name })
	if i < 0 {
		return configErr(flag, "does not list this member (--name=%s)", c.Name)
	}
	if !sameURLs(c.InitialCluster[i].PeerURLs, c.AdvertisePeerURLs) {
		return configErr("--initial-advertise-peer-urls", "%s does not match --initial-cluster's %s=%s",
			strings.Join(c.AdvertisePeerURLs, ","), c.Name, strings.Join(c.InitialCluster[i].PeerURLs, ","))
	}
	switch c.InitialClusterState {
	case "new":
	case "existing":
		// etcd uses "existing" to join a running cluster through runtime
		// reconfiguration, which we do not implement; here it can only mean
		// restarting a member from its own data dir.
		entries, err := os.ReadDir(c.DataDir)
		if err != nil || len(entries) == 0 {
			return configErr("--initial-cluster-state", "existing needs the data dir of a member started before, and %s has none (only static clusters are supported)", c.DataDir)
		}
	default:
		return configErr("--initial-cluster-state", "must be new or existing, got %q", c.InitialClusterState)
	}
	return nil
}

// sameURLs reports whether a and b hold the same URLs in any order.
func sameURLs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := slices.Clone(a), slices.Clone(b)
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// validateTLS checks each port's TLS settings and their files, and that
// the port's URLs say https exactly when it has TLS.
func (c Config) validateTLS() error {
	type flagURLs struct {
		flag string
		urls []string
	}
	var members []string
	for _, m := range c.InitialCluster {
		members = append(members, m.PeerURLs...)
	}
	sides := []struct {
		prefix string // of the flags: "" or "peer-"
		info   tlsinfo.Info
		urls   []flagURLs
	}{
		{"", c.ClientTLS, []flagURLs{{"--listen-client-urls", c.ListenClientURLs}, {"--advertise-client-urls", c.AdvertiseClientURLs}}},
		{"peer-", c.PeerTLS, []flagURLs{{"--listen-peer-urls", c.ListenPeerURLs}, {"--initial-advertise-peer-urls", c.AdvertisePeerURLs}, {"--initial-cluster", members}}},
	}
	for _, side := range sides {
		if err := side.info.Validate(); err != nil {
			return tlsFlagErr(side.prefix, err)
		}
		want := "http"
		if side.info.Enabled() {
			want = "https"
		}
		for _, fu := range side.urls {
			flag := fu.flag
			for _, raw := range fu.urls {
				u, _ := url.Parse(raw) // checked by checkURL
				switch {
				case u.Scheme == want:
				case want == "https":
					return configErr(flag, "%s is http, but --%scert-file (or --%sauto-tls) turns TLS on for this port: use https://", raw, side.prefix, side.prefix)
				default:
					return configErr(flag, "%s is https: give --%scert-file and --%skey-file (or --%sauto-tls)", raw, side.prefix, side.prefix, side.prefix)
				}
			}
		}
	}
	return nil
}

// tlsFlagErr names the flag of a tlsinfo error: the port's prefix on
// every flag but those both ports share.
func tlsFlagErr(prefix string, err error) error {
	var fe *tlsinfo.FieldError
	if !errors.As(err, &fe) {
		return configErr("--"+prefix+"cert-file", "%v", err)
	}
	switch fe.Field {
	case "cipher-suites", "tls-min-version", "tls-max-version":
		prefix = ""
	}
	return configErr("--"+prefix+fe.Field, "%s", fe.Msg)
}

// checkURL accepts what our listeners and dialers support: http or https
// with an explicit host and port, and nothing after them.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("URL %q: must be http://host:port or https://host:port", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: scheme must be http or https", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %q: must be %s://host:port with nothing after the port", s, u.Scheme)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return fmt.Errorf("URL %q: must be %s://host:port", s, u.Scheme)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("URL %q: port must be a number from 1 to 65535", s)
	}
	return nil
}

// ParseInitialCluster parses etcd's --initial-cluster format,
// "name=url,name=url,...". A member with several peer URLs repeats its name;
// members keep the order in which their names first appear.
func ParseInitialCluster(s string) ([]Member, error) {
	const flag = "--initial-cluster"
	if strings.TrimSpace(s) == "" {
		return nil, configErr(flag, "must name at least one member")
	}
	var members []Member
	index := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, u, ok := strings.Cut(part, "=")
		name, u = strings.TrimSpace(name), strings.TrimSpace(u)
		switch {
		case part == "":
			return nil, configErr(flag, "empty entry in %q", s)
		case !ok:
			return nil, configErr(flag, "entry %q is not name=url", part)
		case name == "":
			return nil, configErr(flag, "entry %q has no name", part)
		case u == "":
			return nil, configErr(flag, "member %q has no URL", name)
		}
		if err := checkURL(u); err != nil {
			return nil, configErr(flag, "member %q: %v", name, err)
		}
		i, seen := index[name]
		if !seen {
			i = len(members)
			index[name] = i
			members = append(members, Member{Name: name})
		}
		if slices.Contains(members[i].PeerURLs, u) {
			return nil, configErr(flag, "member %q lists %s twice", name, u)
		}
		members[i].PeerURLs = append(members[i].PeerURLs, u)
	}
	return members, nil
}

// FormatInitialCluster is the inverse of ParseInitialCluster.
func FormatInitialCluster(members []Member) string {
	var parts []string
	for _, m := range members {
		for _, u := range m.PeerURLs {
			parts = append(parts, m.Name+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

// diskProfile resolves --disk-profile and --disk-sync-latency, which
// exclude each other.
func (c Config) diskProfile() (diskprofile.Profile, error) {
	if c.DiskSyncLatency < 0 {
		return diskprofile.Profile{}, configErr("--disk-sync-latency", "must not be negative, got %v", c.DiskSyncLatency)
	}
	if c.DiskSyncLatency > 0 {
		if c.DiskProfile != "" && c.DiskProfile != "native" {
			return diskprofile.Profile{}, configErr("--disk-sync-latency", "give it or --disk-profile %s, not both", c.DiskProfile)
		}
		p, err := diskprofile.Fixed(c.DiskSyncLatency)
		if err != nil {
			return diskprofile.Profile{}, configErr("--disk-sync-latency", "%v", err)
		}
		return p, nil
	}
	name := c.DiskProfile
	if name == "" {
		name = "native"
	}
	p, err := diskprofile.Lookup(name)
	if err != nil {
		return diskprofile.Profile{}, configErr("--disk-profile", "%v", err)
	}
	return p, nil
}
