package e2e

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/etcdctl.golden from a real etcd cluster")

const goldenPath = "testdata/etcdctl.golden"

// TestEtcdctlCompat runs testdata/etcdctl.script with etcdctl against a
// 3-member cluster of each flavor and compares the normalized transcript
// with the one real etcd produced (testdata/etcdctl.golden). Running it
// against etcd too checks that the script itself is deterministic.
func TestEtcdctlCompat(t *testing.T) {
	etcdctl := needEtcdctl(t)
	script, err := ParseScript(readFile(t, "testdata/etcdctl.script"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			if *update && f.isOur {
				t.Skip("-update rewrites the golden file from etcd only")
			}
			c := startCluster(t, f.spec(t), 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			got, err := Runner{Etcdctl: etcdctl, Endpoints: c.Endpoints()}.Run(ctx, script)
			if err != nil {
				t.Fatalf("run script: %v\ntranscript so far:\n%s", err, got)
			}
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := readFile(t, goldenPath)
			if got != want {
				t.Fatalf("%s's transcript differs from %s (- golden, + got):\n%s", f.name, goldenPath, lineDiff(want, got))
			}
		})
	}
}
