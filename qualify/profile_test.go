package qualify

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestShippedProfilesMatchBuiltins loads configs/qualify-*.yaml and checks
// each equals the built-in profile of its name, so the files document
// what --profile etcd and --profile openshift do.
func TestShippedProfilesMatchBuiltins(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Profile
	}{
		{"etcd", "../configs/qualify-etcd.yaml", EtcdProfile()},
		{"openshift", "../configs/qualify-openshift.yaml", OpenShiftProfile()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadProfile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				for k, w := range tt.want.Thresholds {
					if g := got.Thresholds[k]; !reflect.DeepEqual(g, w) {
						t.Errorf("%s: file %+v, built-in %+v", k, g, w)
					}
				}
				got.Thresholds, tt.want.Thresholds = nil, nil
				t.Fatalf("file %s differs from the built-in profile:\n%+v\n%+v", tt.file, got, tt.want)
			}
			byName, err := LoadProfile(tt.name)
			if err != nil || !reflect.DeepEqual(byName, tt.want) {
				t.Fatalf("LoadProfile(%q) = %v", tt.name, err)
			}
		})
	}
}

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProfileErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // substrings of the one-line error
	}{
		{"unknown top-level field", "name: x\nplaned_db_bytes: 5\n", []string{"line 2", `unknown field "planed_db_bytes"`}},
		{"unknown field in a threshold", "name: x\nthresholds:\n  disk.commit_p99:\n    fail: 20\n    sauce: me\n", []string{"line 5", `unknown field "sauce"`}},
		{"unknown field in e2e", "name: x\ne2e:\n  max_p98_ms: 3\n", []string{"line 3", `unknown field "max_p98_ms"`}},
		{"unknown check", "name: x\nthresholds:\n  disk.wal_p99:\n    fail: 1\n    source: s\n", []string{`unknown check "disk.wal_p99"`}},
		{"threshold without a limit", "name: x\nthresholds:\n  disk.commit_p99:\n    source: s\n", []string{"disk.commit_p99", "neither fail nor warn"}},
		{"threshold without a source", "name: x\nthresholds:\n  disk.commit_p99:\n    fail: 3\n", []string{"disk.commit_p99", "source is empty"}},
		{"warn beyond fail", "name: x\nthresholds:\n  disk.commit_p99:\n    fail: 3\n    warn: 5\n    source: s\n", []string{"warn 5 lies beyond fail 3"}},
		{"tier that is no tier", "name: x\nthresholds:\n  e2e.highest_tier:\n    fail: 7\n    source: s\n", []string{"e2e.highest_tier", "not a tier"}},
		{"no name", "description: nameless\n", []string{"name is empty"}},
		{"bad planned size", "name: x\nplanned_db_bytes: -1\n", []string{"planned_db_bytes -1"}},
		{"not yaml", "name: [x\n", []string{"p.yaml"}},
		{"a rate share above 100", "name: x\ne2e:\n  min_rate_pct: 120\n", []string{"min_rate_pct 120"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadProfile(writeProfile(t, tt.body))
			if !errors.Is(err, ErrProfile) {
				t.Fatalf("err = %v, want ErrProfile", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestUnknownProfileName(t *testing.T) {
	_, err := LoadProfile("kubernetes")
	if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), `"kubernetes"`) || !strings.Contains(err.Error(), "etcd, openshift") {
		t.Fatalf("err = %v", err)
	}
}

// TestProfileFileOverEtcd checks that a file keeps etcd's thresholds for
// the checks it does not name and takes its own for those it names.
func TestProfileFileOverEtcd(t *testing.T) {
	p, err := LoadProfile(writeProfile(t, `name: strict
planned_db_bytes: 4294967296
thresholds:
  disk.wal_fdatasync_p99:
    fail: 2
    source: our own SLO
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Thresholds["disk.wal_fdatasync_p99"]; *got.Fail != 2 || got.Warn != nil || got.Source != "our own SLO" {
		t.Errorf("named threshold %+v", got)
	}
	if got, want := p.Thresholds["disk.commit_p99"], EtcdProfile().Thresholds["disk.commit_p99"]; !reflect.DeepEqual(got, want) {
		t.Errorf("unnamed threshold %+v, want etcd's %+v", got, want)
	}
	if c := judge(p, "disk.free_space", 5); c.Verdict != Warn || c.Threshold != 4 {
		t.Errorf("free space against a 4 GiB plan: %+v", c)
	}
}
