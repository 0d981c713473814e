package testbin

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestBuildOnceAndRemove(t *testing.T) {
	var b Build
	first := b.Adrbench(t)
	if second := b.Adrbench(t); second != first {
		t.Fatalf("second call built again: %s, then %s", first, second)
	}
	out, err := exec.Command(first, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "adrbench") {
		t.Fatalf("%s --help: %v\n%s", first, err, out)
	}
	b.Remove()
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("after Remove, stat %s: %v, want not exist", first, err)
	}
}

func TestToolSkipsWhenMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	skipped := false
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Tool(t, "etcd")
	})
	if !skipped {
		t.Fatal("Tool did not skip for a tool not on PATH")
	}
}
