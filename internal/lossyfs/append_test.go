package lossyfs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestLossyChildAppendsToLog opens a log file on the mount with O_APPEND, as
// the e2e cluster does for its members, lets child processes write to it
// across a power cut and a remount, and reads it back.
func TestLossyChildAppendsToLog(t *testing.T) {
	m := mountFS(t, Options{})
	run := func(round int) {
		t.Helper()
		f, err := os.OpenFile(m.path("member.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "=== round %d\n", round)
		cmd := exec.Command("/bin/sh", "-c", "echo child $0", fmt.Sprint(round))
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	run(0)
	if got, want := readString(t, m.path("member.log")), "=== round 0\nchild 0\n"; got != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
	m.cut(t)
	if got := readString(t, m.path("member.log")); got != "" {
		t.Fatalf("log after the cut = %q, want it empty: it was never synced", got)
	}
	run(1)
	if got, want := readString(t, m.path("member.log")), "=== round 1\nchild 1\n"; got != want {
		t.Fatalf("log after the cut and a new round = %q, want %q", got, want)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
