package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRequestLimits sends etcdctl requests over etcd's default limits
// (1.5 MiB per request, 128 ops per txn) and expects etcd's errors.
func TestRequestLimits(t *testing.T) {
	etcdctl := needEtcdctl(t)
	var manyOps strings.Builder
	manyOps.WriteString("\n") // no compares
	for i := range 129 {
		manyOps.WriteString("put k" + strings.Repeat("x", i%7) + " v\n")
	}
	manyOps.WriteString("\n\n") // end of success ops; no failure ops
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		// etcdctl itself refuses to send 2 MiB (its gRPC send limit), so a
		// value between the server's 1.5 MiB limit and 2 MiB reaches it.
		{name: "1.75 MiB value", args: []string{"put", "big"}, stdin: strings.Repeat("v", 7<<18), want: "etcdserver: request is too large"},
		{name: "129 ops in a txn", args: []string{"txn"}, stdin: manyOps.String(), want: "etcdserver: too many operations in txn request"},
	}
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			c := startCluster(t, f.spec(t), 1)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
					defer cancel()
					cmd := exec.CommandContext(ctx, etcdctl, append([]string{"--endpoints=" + c.Member(0).Endpoint()}, tt.args...)...)
					cmd.Env = append(cmd.Environ(), "ETCDCTL_API=3")
					cmd.Stdin = strings.NewReader(tt.stdin)
					var stderr bytes.Buffer
					cmd.Stderr = &stderr
					err := cmd.Run()
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						t.Fatalf("etcdctl %v: %v, want a non-zero exit", tt.args, err)
					}
					if !strings.Contains(stderr.String(), "Error: "+tt.want) {
						t.Fatalf("etcdctl %v: stderr %q, want %q", tt.args, stderr.String(), tt.want)
					}
				})
			}
			// The server is still fine after refusing them.
			cli, err := newClient(c.Endpoints()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, "after", "ok"); err != nil {
				t.Fatalf("put after the refused requests: %v", err)
			}
		})
	}
}

// TestServeCLIErrors runs the adrbench binary with bad flags: each must
// exit 1 with one line on stderr naming what is wrong, and start nothing.
func TestServeCLIErrors(t *testing.T) {
	bin := buildAdrbench(t)
	dir := t.TempDir()
	file := dir + "/a-file"
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown log backend", args: []string{"--log-backend=fsync-please"}, want: `adrbench: --log-backend: unknown log backend "fsync-please"`},
		{name: "unwritable data dir", args: []string{"--data-dir=" + file + "/data"}, want: "adrbench: --data-dir: data dir is not writable: " + file + "/data"},
		{name: "bad initial cluster", args: []string{"--initial-cluster=default=http://127.0.0.1:2380,infra9="}, want: `adrbench: --initial-cluster: member "infra9" has no URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			args := append([]string{"serve", "--data-dir=" + dir + "/data"}, tt.args...)
			cmd := exec.CommandContext(ctx, bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("adrbench %v: %v, want exit status 1; stderr: %s", args, err, &stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) || stdout.Len() != 0 {
				t.Fatalf("adrbench %v printed\nstdout: %q\nstderr: %q\nwant one line starting %q", args, stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}
