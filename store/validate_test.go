package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/store/tlsinfo"
)

func TestParseInitialCluster(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Member
		wantErr string // substring of the error; empty means success
	}{
		{
			name: "one member",
			in:   "default=http://127.0.0.1:2380",
			want: []Member{{Name: "default", PeerURLs: []string{"http://127.0.0.1:2380"}}},
		},
		{
			name: "three members keep their order",
			in:   "infra2=http://10.0.1.12:2380,infra0=http://10.0.1.10:2380, infra1=http://10.0.1.11:2380",
			want: []Member{
				{Name: "infra2", PeerURLs: []string{"http://10.0.1.12:2380"}},
				{Name: "infra0", PeerURLs: []string{"http://10.0.1.10:2380"}},
				{Name: "infra1", PeerURLs: []string{"http://10.0.1.11:2380"}},
			},
		},
		{
			name: "repeated name adds a URL",
			in:   "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,a=http://10.0.0.1:7001",
			want: []Member{
				{Name: "a", PeerURLs: []string{"http://10.0.0.1:2380", "http://10.0.0.1:7001"}},
				{Name: "b", PeerURLs: []string{"http://10.0.0.2:2380"}},
			},
		},
		{name: "empty", in: " ", wantErr: "--initial-cluster: must name at least one member"},
		{name: "no URL", in: "infra0=http://10.0.1.10:2380,infra9=", wantErr: `--initial-cluster: member "infra9" has no URL`},
		{name: "no equals", in: "infra0", wantErr: `entry "infra0" is not name=url`},
		{name: "no name", in: "=http://10.0.0.1:2380", wantErr: "has no name"},
		{name: "trailing comma", in: "a=http://10.0.0.1:2380,", wantErr: "empty entry"},
		{name: "ftp", in: "a=ftp://10.0.0.1:2380", wantErr: "scheme must be http or https"},
		{name: "no port", in: "a=http://10.0.0.1", wantErr: "must be http://host:port"},
		{name: "bad port", in: "a=http://10.0.0.1:99999", wantErr: "port must be a number"},
		{name: "path", in: "a=http://10.0.0.1:2380/x", wantErr: "nothing after the port"},
		{name: "same URL twice", in: "a=http://10.0.0.1:2380,a=http://10.0.0.1:2380", wantErr: "lists http://10.0.0.1:2380 twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInitialCluster(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseInitialCluster(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInitialCluster(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseInitialCluster(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if back := FormatInitialCluster(got); !sameURLs(strings.Split(back, ","), strings.Split(strings.ReplaceAll(tt.in, " ", ""), ",")) {
				t.Fatalf("FormatInitialCluster round trip = %q, want the entries of %q", back, tt.in)
			}
		})
	}
}

// threeMembers returns a valid config for member m1 of a 3-member cluster.
func threeMembers(dataDir string) Config {
	c := DefaultConfig()
	c.Name = "m1"
	c.DataDir = dataDir
	c.ListenPeerURLs = []string{"http://127.0.0.1:22380"}
	c.AdvertisePeerURLs = []string{"http://127.0.0.1:22380"}
	c.InitialCluster = []Member{
		{Name: "m0", PeerURLs: []string{"http://127.0.0.1:12380"}},
		{Name: "m1", PeerURLs: []string{"http://127.0.0.1:22380"}},
		{Name: "m2", PeerURLs: []string{"http://127.0.0.1:32380"}},
	}
	return c
}

// testPKI is a CA's certificate, a member certificate issued by it, and
// a key that belongs to no certificate of it.
type testPKI struct {
	caFile, cert, key, otherKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsinfo.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.WriteFiles(dir, "member", "member", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.WriteFiles(dir, "other", "other", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, cert: cert, key: key, otherKey: otherKey}
}

// secureClient turns client TLS on, https client URLs included.
func secureClient(c *Config, p testPKI) {
	c.ClientTLS = tlsinfo.Info{CertFile: p.cert, KeyFile: p.key, TrustedCAFile: p.caFile}
	c.ListenClientURLs = []string{"https://127.0.0.1:2379"}
	c.AdvertiseClientURLs = []string{"https://127.0.0.1:2379"}
}

// securePeers turns mutual peer TLS on, every peer URL https.
func securePeers(c *Config, p testPKI) {
	c.PeerTLS = tlsinfo.Info{CertFile: p.cert, KeyFile: p.key, TrustedCAFile: p.caFile, ClientCertAuth: true}
	https := func(urls []string) []string {
		out := make([]string, len(urls))
		for i, u := range urls {
			out[i] = strings.Replace(u, "http://", "https://", 1)
		}
		return out
	}
	c.ListenPeerURLs = https(c.ListenPeerURLs)
	c.AdvertisePeerURLs = https(c.AdvertisePeerURLs)
	for i := range c.InitialCluster {
		c.InitialCluster[i].PeerURLs = https(c.InitialCluster[i].PeerURLs)
	}
}

func TestValidate(t *testing.T) {
	emptyDir := t.TempDir()
	pki := newTestPKI(t)
	usedDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(usedDir, "member"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		edit     func(c *Config)
		wantFlag string // empty means valid
		wantMsg  string
	}{
		{name: "defaults", edit: func(c *Config) { *c = DefaultConfig() }},
		{name: "three members", edit: func(c *Config) {}},
		{name: "advertise URLs in another order", edit: func(c *Config) {
			c.AdvertisePeerURLs = []string{"http://127.0.0.1:22381", "http://127.0.0.1:22380"}
			c.InitialCluster[1].PeerURLs = []string{"http://127.0.0.1:22380", "http://127.0.0.1:22381"}
		}},
		{name: "existing with a used data dir", edit: func(c *Config) {
			c.InitialClusterState = "existing"
			c.DataDir = usedDir
		}},
		{name: "no name", edit: func(c *Config) { c.Name = "" }, wantFlag: "--name"},
		{name: "no data dir", edit: func(c *Config) { c.DataDir = "" }, wantFlag: "--data-dir"},
		{name: "no client URLs", edit: func(c *Config) { c.ListenClientURLs = nil }, wantFlag: "--listen-client-urls", wantMsg: "at least one URL"},
		{name: "bad advertise client URL", edit: func(c *Config) { c.AdvertiseClientURLs = []string{"127.0.0.1:2379"} }, wantFlag: "--advertise-client-urls"},
		{name: "https peer URL without TLS", edit: func(c *Config) { c.ListenPeerURLs = []string{"https://127.0.0.1:2380"} }, wantFlag: "--listen-peer-urls", wantMsg: "give --peer-cert-file"},
		{name: "https client URL without TLS", edit: func(c *Config) { c.ListenClientURLs = []string{"https://127.0.0.1:2379"} }, wantFlag: "--listen-client-urls", wantMsg: "give --cert-file"},
		{name: "client TLS", edit: func(c *Config) { secureClient(c, pki) }},
		{name: "peer TLS", edit: func(c *Config) { securePeers(c, pki) }},
		{name: "client auto TLS", edit: func(c *Config) {
			c.ClientTLS = tlsinfo.Info{AutoTLS: true}
			c.ListenClientURLs, c.AdvertiseClientURLs = []string{"https://127.0.0.1:2379"}, []string{"https://127.0.0.1:2379"}
		}},
		{name: "http client URL with TLS", edit: func(c *Config) {
			secureClient(c, pki)
			c.AdvertiseClientURLs = []string{"http://127.0.0.1:2379"}
		}, wantFlag: "--advertise-client-urls", wantMsg: "use https://"},
		{name: "http member URL with peer TLS", edit: func(c *Config) {
			securePeers(c, pki)
			c.InitialCluster[2].PeerURLs = []string{"http://127.0.0.1:32380"}
		}, wantFlag: "--initial-cluster", wantMsg: "use https://"},
		{name: "cert without key", edit: func(c *Config) {
			secureClient(c, pki)
			c.ClientTLS.KeyFile = ""
		}, wantFlag: "--key-file", wantMsg: "missing"},
		{name: "missing cert file", edit: func(c *Config) {
			securePeers(c, pki)
			c.PeerTLS.CertFile = filepath.Join(emptyDir, "none.pem")
		}, wantFlag: "--peer-cert-file", wantMsg: "no such file"},
		{name: "mismatched key", edit: func(c *Config) {
			securePeers(c, pki)
			c.PeerTLS.KeyFile = pki.otherKey
		}, wantFlag: "--peer-cert-file", wantMsg: "private key does not match"},
		{name: "client-cert-auth without CA", edit: func(c *Config) {
			secureClient(c, pki)
			c.ClientTLS.TrustedCAFile = ""
			c.ClientTLS.ClientCertAuth = true
		}, wantFlag: "--client-cert-auth", wantMsg: "needs trusted-ca-file"},
		{name: "peer-client-cert-auth without CA", edit: func(c *Config) {
			securePeers(c, pki)
			c.PeerTLS.TrustedCAFile = ""
		}, wantFlag: "--peer-client-cert-auth", wantMsg: "needs trusted-ca-file"},
		{name: "missing CA file", edit: func(c *Config) {
			secureClient(c, pki)
			c.ClientTLS.TrustedCAFile = filepath.Join(emptyDir, "none-ca.pem")
		}, wantFlag: "--trusted-ca-file"},
		{name: "allowed CN and hostname", edit: func(c *Config) {
			securePeers(c, pki)
			c.PeerTLS.AllowedCN, c.PeerTLS.AllowedHostname = "m1", "localhost"
		}, wantFlag: "--peer-cert-allowed-cn", wantMsg: "not both"},
		{name: "unknown cipher suite", edit: func(c *Config) {
			securePeers(c, pki)
			c.PeerTLS.CipherSuites = []string{"TLS_NULL"}
		}, wantFlag: "--cipher-suites", wantMsg: "TLS_NULL"},
		{name: "bad TLS version", edit: func(c *Config) {
			secureClient(c, pki)
			c.ClientTLS.MinVersion = "SSL3"
		}, wantFlag: "--tls-min-version"},
		{name: "member without URL", edit: func(c *Config) { c.InitialCluster[2].PeerURLs = nil }, wantFlag: "--initial-cluster", wantMsg: `member "m2" has no URL`},
		{name: "member listed twice", edit: func(c *Config) { c.InitialCluster[2].Name = "m0" }, wantFlag: "--initial-cluster", wantMsg: `member "m0" is listed twice`},
		{name: "shared peer URL", edit: func(c *Config) { c.InitialCluster[2].PeerURLs = c.InitialCluster[0].PeerURLs }, wantFlag: "--initial-cluster", wantMsg: "share peer URL"},
		{name: "empty cluster", edit: func(c *Config) { c.InitialCluster = nil }, wantFlag: "--initial-cluster"},
		{name: "not in cluster", edit: func(c *Config) { c.Name = "m9" }, wantFlag: "--initial-cluster", wantMsg: "--name=m9"},
		{name: "advertise mismatch", edit: func(c *Config) { c.AdvertisePeerURLs = []string{"http://127.0.0.1:12380"} }, wantFlag: "--initial-advertise-peer-urls", wantMsg: "does not match"},
		{name: "bad cluster state", edit: func(c *Config) { c.InitialClusterState = "joining" }, wantFlag: "--initial-cluster-state", wantMsg: "new or existing"},
		{name: "existing without data", edit: func(c *Config) {
			c.InitialClusterState = "existing"
			c.DataDir = emptyDir
		}, wantFlag: "--initial-cluster-state", wantMsg: "only static clusters"},
		{name: "existing with missing data dir", edit: func(c *Config) {
			c.InitialClusterState = "existing"
			c.DataDir = filepath.Join(emptyDir, "missing")
		}, wantFlag: "--initial-cluster-state"},
		{name: "zero heartbeat", edit: func(c *Config) { c.HeartbeatInterval = 0 }, wantFlag: "--heartbeat-interval"},
		{name: "emulated disk", edit: func(c *Config) { c.DiskProfile = "ssd-2015" }},
		{name: "fixed sync latency", edit: func(c *Config) { c.DiskSyncLatency = 2 * time.Millisecond }},
		{name: "unknown disk profile", edit: func(c *Config) { c.DiskProfile = "floppy" }, wantFlag: "--disk-profile", wantMsg: "floppy"},
		{name: "negative sync latency", edit: func(c *Config) { c.DiskSyncLatency = -time.Millisecond }, wantFlag: "--disk-sync-latency"},
		{name: "profile and fixed latency", edit: func(c *Config) {
			c.DiskProfile = "hdd"
			c.DiskSyncLatency = time.Millisecond
		}, wantFlag: "--disk-sync-latency", wantMsg: "not both"},
		{name: "election below 5x heartbeat", edit: func(c *Config) {
			c.HeartbeatInterval = 100 * time.Millisecond
			c.ElectionTimeout = 499 * time.Millisecond
		}, wantFlag: "--election-timeout", wantMsg: "at least 5 times"},
		{name: "election exactly 5x heartbeat", edit: func(c *Config) {
			c.HeartbeatInterval = 100 * time.Millisecond
			c.ElectionTimeout = 500 * time.Millisecond
		}},
		{name: "election too long", edit: func(c *Config) { c.ElectionTimeout = time.Minute }, wantFlag: "--election-timeout", wantMsg: "too long"},
		{name: "zero snapshot count", edit: func(c *Config) { c.SnapshotCount = 0 }, wantFlag: "--snapshot-count"},
		{name: "zero snapshot catch-up", edit: func(c *Config) { c.SnapshotCatchUpEntries = 0 }, wantFlag: "--snapshot-catchup-entries"},
		{name: "zero quota", edit: func(c *Config) { c.QuotaBackendBytes = 0 }, wantFlag: "--quota-backend-bytes"},
		{name: "negative quota", edit: func(c *Config) { c.QuotaBackendBytes = -1 }, wantFlag: "--quota-backend-bytes"},
		{name: "zero max request", edit: func(c *Config) { c.MaxRequestBytes = 0 }, wantFlag: "--max-request-bytes"},
		{name: "zero max txn ops", edit: func(c *Config) { c.MaxTxnOps = 0 }, wantFlag: "--max-txn-ops"},
		{name: "no log backend", edit: func(c *Config) { c.LogBackend = "" }, wantFlag: "--log-backend"},
		{name: "zero batch interval", edit: func(c *Config) { c.BackendBatchInterval = 0 }, wantFlag: "BackendBatchInterval"},
		{name: "zero batch limit", edit: func(c *Config) { c.BackendBatchLimit = 0 }, wantFlag: "BackendBatchLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := threeMembers(emptyDir)
			tt.edit(&c)
			err := c.Validate()
			if tt.wantFlag == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *ConfigError for %s", err, tt.wantFlag)
			}
			if ce.Flag != tt.wantFlag || !strings.Contains(ce.Msg, tt.wantMsg) {
				t.Fatalf("Validate() = %q, want flag %s and a message containing %q", err, tt.wantFlag, tt.wantMsg)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v does not wrap ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate() = %q spans several lines", err)
			}
		})
	}
}

// TestValidateWritesNothing checks that Validate has no side effects: a
// missing data dir stays missing.
func TestValidateWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-created")
	for _, state := range []string{"new", "existing"} {
		c := threeMembers(dir)
		c.InitialClusterState = state
		_ = c.Validate()
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("state %s: Validate touched %s (stat: %v)", state, dir, err)
		}
	}
}
