package harness

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestClusterConfigAuth(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *ClusterConfig)
		field string // named in the error; "" means valid
	}{
		{name: "root", edit: func(c *ClusterConfig) { c.AuthUser, c.AuthPassword = "root", "pw" }},
		{name: "user without password", edit: func(c *ClusterConfig) { c.AuthUser = "root" }, field: "without auth_password"},
		{name: "password without user", edit: func(c *ClusterConfig) { c.AuthPassword = "pw" }, field: "auth_password without auth_user"},
		{name: "another user on a started target", edit: func(c *ClusterConfig) { c.AuthUser, c.AuthPassword = "alice", "pw" }, field: "auth_user must be root"},
		{name: "another user on an external cluster", edit: func(c *ClusterConfig) {
			c.Target, c.Endpoints, c.AuthUser, c.AuthPassword = TargetExternal, []string{"a:1"}, "alice", "pw"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultClusterConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate: %v, want it to name %s", err, tc.field)
			}
		})
	}
}

// TestAuthClusters starts member processes with authentication enabled:
// a client without a user is refused, so authentication really is on, and
// the load's connections log in as root. (TestBenchWithAuth covers
// inproc, whose bcrypt runs under the race detector in this process.)
func TestAuthClusters(t *testing.T) {
	targets := []struct {
		name string
		cfg  func(t *testing.T) ClusterConfig
	}{
		{"process", func(t *testing.T) ClusterConfig {
			c := quickCluster(t, TargetProcess, 3, "batched")
			c.ServeBinary = serveBinary(t)
			return c
		}},
		{"etcd", func(t *testing.T) ClusterConfig {
			needEtcd(t)
			return quickCluster(t, TargetEtcd, 3, "")
		}},
	}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cc := tt.cfg(t)
			cc.AuthUser, cc.AuthPassword = "root", "benchpw"
			cl, err := StartCluster(ctx, cc, testBackends())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := cl.Close(); err != nil {
					t.Error(err)
				}
			})
			anon, err := clientv3.New(clientv3.Config{Endpoints: cl.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			defer anon.Close()
			if _, err := anon.Put(ctx, "k", "v"); err == nil || rpctypes.ErrorDesc(err) != rpctypes.ErrorDesc(rpctypes.ErrGRPCUserEmpty) {
				t.Fatalf("put without a user on an auth cluster: %v", err)
			}
			conns, err := dial(ctx, cl.Endpoints(), nil, 3, cc.AuthUser, cc.AuthPassword)
			t.Cleanup(func() {
				for _, c := range conns {
					c.Close()
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range conns {
				if _, err := c.Put(ctx, "k", "v"); err != nil {
					t.Fatalf("put as root through connection %d: %v", i, err)
				}
			}
		})
	}
}

// TestBenchWithAuth measures a point on a cluster with authentication:
// every operation succeeds as root, and the password stays out of the
// run's recorded config.
func TestBenchWithAuth(t *testing.T) {
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 1, "memory")
	cfg.Cluster.AuthUser, cfg.Cluster.AuthPassword = "root", "benchpw"
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, 200
	run := bench(t, cfg, testBackends())
	if p := run.Points[0]; p.Ops != 200 || p.Errors != 0 {
		t.Fatalf("point %+v", p)
	}
	if strings.Contains(string(run.Config), "benchpw") || !strings.Contains(string(run.Config), `"auth_user":"root"`) {
		t.Fatalf("run config %s", run.Config)
	}
}
