package qualify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// qualifyInto runs the disk checks on a fresh directory through an
// in-memory file system whose syncs take sync, and writes qualify.json to
// out (without the figures, which TestRunWritesResults covers and which
// take seconds to draw under the race detector). Memory under the latency
// keeps the real disk's tail, which on a shared machine reaches hundreds
// of milliseconds, out of the comparison.
func qualifyInto(ctx context.Context, dir, out string, sync time.Duration) error {
	prof, err := diskprofile.Fixed(sync)
	if err != nil {
		return err
	}
	cfg := only(dir, GroupDisk)
	cfg.FS = diskprofile.Wrap(vfs.NewMem(), prof)
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	js, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, ResultFile), js, 0o644)
}

// TestCompareFlagsTheSlowDisk qualifies three "servers", two with 1 ms
// syncs and one with 200 ms syncs, and compares them: the slow one's disk
// figures are the outliers, and nobody else's are. (On a loaded machine,
// under the race detector, a fast server's p99 reaches tens of
// milliseconds; the slow disk stays far above 3x that.)
func TestCompareFlagsTheSlowDisk(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "slow")}
	syncs := []time.Duration{time.Millisecond, time.Millisecond, 200 * time.Millisecond}
	errs := make(chan error, len(dirs))
	for i := range dirs {
		// The three servers are qualified at once: their disks are
		// separate in-memory file systems, and the test takes a third
		// of the time.
		go func() { errs <- qualifyInto(t.Context(), t.TempDir(), dirs[i], syncs[i]) }()
	}
	for range dirs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	f, err := Compare(dirs, DefaultOutlierFactor)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Servers) != 3 || f.Servers[2].Verdict != Fail {
		t.Fatalf("servers %+v", f.Servers)
	}
	flagged := map[string]bool{}
	for _, o := range f.Outliers {
		if !strings.Contains(o.Server, "slow") {
			t.Errorf("outlier on a normal disk: %s", o)
		}
		flagged[o.Check] = true
	}
	for _, want := range []string{"disk.wal_fdatasync_p99", "disk.wal_iops", "disk.commit_p99"} {
		if !flagged[want] {
			t.Errorf("%s of the slow disk not flagged; outliers: %v", want, f.Outliers)
		}
	}

	var buf bytes.Buffer
	PrintFleet(&buf, f)
	if !strings.Contains(buf.String(), "! ") || !strings.Contains(buf.String(), "disk.wal_fdatasync_p99") {
		t.Errorf("table:\n%s", buf.String())
	}
	out := filepath.Join(root, "fleet")
	if err := WriteFleet(out, f); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FleetFile, FleetReportFile, fleetFigure + ".png", fleetFigure + ".svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	var back Fleet
	data, err := os.ReadFile(filepath.Join(out, FleetFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Outliers) != len(f.Outliers) {
		t.Fatalf("fleet.json: %v, %d outliers", err, len(back.Outliers))
	}
}

func TestWorseRatio(t *testing.T) {
	tests := []struct {
		name string
		dir  direction
		v, m float64
		want float64
	}{
		{"latency three times the median", below, 6, 2, 3},
		{"latency under the median", below, 1, 2, 0.5},
		{"rate a third of the median", atLeast, 100, 300, 3},
		{"rate above the median", atLeast, 600, 300, 0.5},
		{"a zero median latency", below, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := worseRatio(tt.dir, tt.v, tt.m); got != tt.want {
				t.Fatalf("worseRatio = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	notResult := t.TempDir()
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, ResultFile), []byte(`{"schema": "adrbench.run/v1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		dirs   []string
		factor float64
		want   error
		text   string
	}{
		{"nothing", nil, 3, ErrConfig, "no result directories"},
		{"no qualify.json", []string{notResult}, 3, ErrResult, "has no qualify.json"},
		{"another schema", []string{bad}, 3, ErrResult, `schema "adrbench.run/v1"`},
		{"factor of one", []string{bad}, 1, ErrConfig, "outlier factor 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(tt.dirs, tt.factor)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v, want %v with %q", err, tt.want, tt.text)
			}
		})
	}
}
