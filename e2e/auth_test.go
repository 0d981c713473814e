package e2e

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestEtcdctlJWT runs testdata/auth-jwt.script with etcdctl against a
// 3-member cluster of etcd and of ours, both started with etcd's
// --auth-token jwt flag and the same ES256 keys, and compares the
// transcripts.
func TestEtcdctlJWT(t *testing.T) {
	etcdctl := needEtcdctl(t)
	script, err := ParseScript(readFile(t, "testdata/auth-jwt.script"))
	if err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	keys := filepath.Join(filepath.Dir(filepath.Dir(file)), "store", "testdata", "jwt")
	flag := "--auth-token=jwt,pub-key=" + filepath.Join(keys, "ec256.pub") + ",priv-key=" + filepath.Join(keys, "ec256.key") + ",sign-method=ES256"
	got := map[string]string{}
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			spec := f.spec(t)
			spec.Flags = append(spec.Flags, flag)
			c := startCluster(t, spec, 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := Runner{Etcdctl: etcdctl, Endpoints: c.Endpoints()}.Run(ctx, script)
			if err != nil {
				t.Fatalf("run script: %v\ntranscript so far:\n%s", err, out)
			}
			got[f.name] = out
		})
	}
	etcd, ours := got["etcd"], got["adrbench"]
	if etcd == "" || ours == "" {
		t.Skip("needs both transcripts to compare")
	}
	if ours != etcd {
		t.Fatalf("our transcript differs from etcd's (- etcd, + ours):\n%s", lineDiff(etcd, ours))
	}
}
