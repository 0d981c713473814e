package harness

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGitRevisionWithoutBuildStamp checks that a binary built without VCS
// stamping (go test and go run never stamp) still records the revision of
// the checkout it runs in.
func TestGitRevisionWithoutBuildStamp(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not in a git checkout, or git is not on PATH: ", err)
	}
	want := strings.TrimSpace(string(out))
	if got := strings.TrimSuffix(gitRevision(), "-dirty"); got != want {
		t.Fatalf("gitRevision() = %q, want %q", got, want)
	}
}
