package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrbench/adrbench/results"
)

// TestBenchUser runs bench against a cluster it enables authentication on,
// and checks that --user takes etcdctl's user:password.
func TestBenchUser(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"bench", "--target=inproc", "--nodes=1", "--log-backend=memory", "--user=root:pw",
		"--workload=put", "--clients=4", "--conns=2", "--total=100", "--heartbeat-interval=20", "--election-timeout=200",
		"--data-dir=" + t.TempDir(), "--out=" + out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Points[0]; p.Ops != 100 || p.Errors != 0 {
		t.Fatalf("point %+v", p)
	}
	rejects := []struct {
		name string
		user string
		want string
	}{
		{"no password", "root", `--user: bad flags: "root" is not user:password`},
		{"empty password", "root:", `--user: bad flags: "root:" is not user:password`},
		{"not root on a started cluster", "alice:pw", "auth_user must be root"},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"bench", "--user=" + tc.user, "--out=" + filepath.Join(t.TempDir(), "r")}
			if code := run(t.Context(), args, &stdout, &stderr); code == 0 {
				t.Fatal("exit 0, want failure")
			}
			if line := stderr.String(); strings.Count(line, "\n") != 1 || !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q: want one line naming %q", line, tc.want)
			}
		})
	}
}
