package harness

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The process and etcd targets start TLS clusters, and the load, the
// leader search and the log statistics reach them over TLS; the external
// target reaches the same cluster with its CA and client certificate.
func TestBenchTLS(t *testing.T) {
	for _, tt := range faultTargets(t) {
		if tt.name == TargetInproc {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultBenchConfig()
			cfg.Cluster = tt.cfg(t)
			cfg.Cluster.TLS = true
			cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, 200
			cfg.ToLeader = true
			run := bench(t, cfg, testBackends())
			p := run.Points[0]
			if p.Ops != 200 || p.Errors != 0 || !p.TLS {
				t.Fatalf("point over TLS: ops %d, errors %d, tls %v", p.Ops, p.Errors, p.TLS)
			}
			if p.SyncsPerOp <= 0 {
				t.Errorf("syncs per op %v: the log statistics were not read over TLS", p.SyncsPerOp)
			}
		})
	}
}

func TestExternalTLS(t *testing.T) {
	cfg := quickCluster(t, TargetProcess, 1, "batched")
	cfg.ServeBinary = serveBinary(t)
	cfg.TLS = true
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := StartCluster(ctx, cfg, testBackends())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ext := DefaultClusterConfig()
	ext.Target, ext.Endpoints, ext.TLS = TargetExternal, cl.Endpoints(), true
	dir := filepath.Join(cfg.DataDir, "tls")
	ext.CACert = filepath.Join(dir, "ca.pem")
	ext.Cert, ext.Key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if _, err := StartCluster(ctx, ext, nil); err != nil {
		t.Fatalf("external over TLS: %v", err)
	}
	ext.Cert, ext.Key = "", ""
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if _, err := StartCluster(short, ext, nil); err == nil {
		t.Fatal("external without a client certificate reached a cluster that requires one")
	}
}
