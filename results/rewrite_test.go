package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResumeAndRewrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if run, err := Resume(dir, "bench-put"); run != nil || err != nil {
		t.Fatalf("Resume of a missing dir = %v, %v; want nil, nil", run, err)
	}
	first := testRun(t)
	if err := Rewrite(dir, first); err != nil {
		t.Fatal(err)
	}
	second := testRun(t)
	second.Points = append(second.Points, second.Points[0])
	second.Points[1].Clients = 20
	if err := Rewrite(dir, second); err != nil {
		t.Fatal(err)
	}
	got, err := Resume(dir, "bench-put")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Points) != 2 || got.Points[1].Clients != 20 {
		t.Fatalf("resumed %d points (second's clients %d), want the rewritten run's 2 (20)", len(got.Points), got.Points[len(got.Points)-1].Clients)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".save-") {
			t.Errorf("Rewrite left its scratch directory %s", e.Name())
		}
	}
	if _, err := Resume(dir, "other"); !errors.Is(err, ErrOtherRun) {
		t.Fatalf("Resume under another name = %v, want ErrOtherRun", err)
	}
}

func TestRewriteRefusesInvalidRunAndKeepsOld(t *testing.T) {
	dir := t.TempDir()
	if err := Rewrite(dir, testRun(t)); err != nil {
		t.Fatal(err)
	}
	bad := testRun(t)
	bad.Points[0].Ops = -1
	if err := Rewrite(dir, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Rewrite of an invalid run = %v, want ErrInvalid", err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatalf("the old run is no longer readable: %v", err)
	}
	if got.Points[0].Ops != testRun(t).Points[0].Ops {
		t.Fatalf("the old run changed: ops %d", got.Points[0].Ops)
	}
}
