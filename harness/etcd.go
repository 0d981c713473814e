package harness

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// startEtcd starts N real etcd processes on loopback ports, with the same
// snapshot and timing settings our members get (see procCluster).
func startEtcd(ctx context.Context, cfg ClusterConfig) (*procCluster, error) {
	bin := cfg.EtcdBinary
	if bin == "" {
		bin = "etcd"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: etcd binary %q: %w", ErrNotFound, bin, err)
	}
	return startProcs(ctx, cfg, nil, TargetEtcd, []string{path}, []string{"--logger", "zap", "--log-level", "warn"})
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line; the command name in field 2 may hold spaces, so
// fields are counted from its closing parenthesis.
func parseProcStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed /proc stat %q", ErrTarget, s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short /proc stat %q", ErrTarget, s)
	}
	const userHZ = 100
	var ticks int64
	for _, x := range f[11:13] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc stat field %q: %w", ErrTarget, x, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
