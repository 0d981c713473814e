package harness

import (
	"context"
	"fmt"
	"os/exec"
)

// startEtcd starts N real etcd processes on loopback ports, with the same
// snapshot and timing settings our members get (see timingFlags).
func startEtcd(ctx context.Context, cfg ClusterConfig) (*procCluster, error) {
	bin := cfg.EtcdBinary
	if bin == "" {
		bin = "etcd"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: etcd binary %q: %w", ErrNotFound, bin, err)
	}
	flags := append([]string{"--logger=zap", "--log-level=warn"}, timingFlags(cfg)...)
	return startProcs(ctx, cfg, nil, TargetEtcd, []string{path}, flags)
}
