package diskprofile_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/fsync"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// syncOnce creates a file on fsys, writes to it and times one Sync.
func syncOnce(t *testing.T, fsys vfs.FS) time.Duration {
	t.Helper()
	if err := fsys.MkdirAll("/d", 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("record")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// TestSyncTakesAtLeastTheProfileLatency checks lower bounds only: a loaded
// machine may make a sync slower than the profile, never faster.
func TestSyncTakesAtLeastTheProfileLatency(t *testing.T) {
	for _, name := range diskprofile.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := diskprofile.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if name != diskprofile.Native && (!p.Emulated || p.SyncLatency <= 0 || p.Source == "") {
				t.Fatalf("profile %+v adds no latency or is not marked emulated", p)
			}
			if got := syncOnce(t, diskprofile.Wrap(vfs.NewMem(), p)); got < p.SyncLatency {
				t.Fatalf("Sync took %v, profile %s adds at least %v", got, name, p.SyncLatency)
			}
			start := time.Now()
			if err := diskprofile.Wrap(vfs.NewMem(), p).SyncDir("/"); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got < p.SyncLatency {
				t.Fatalf("SyncDir took %v, profile %s adds at least %v", got, name, p.SyncLatency)
			}
		})
	}
}

func TestNativeAddsNothing(t *testing.T) {
	p, err := diskprofile.Lookup(diskprofile.Native)
	if err != nil {
		t.Fatal(err)
	}
	mem := vfs.NewMem()
	if got := diskprofile.Wrap(mem, p); got != vfs.FS(mem) {
		t.Fatalf("Wrap(native) = %T, want the file system itself", got)
	}
	if p.Emulated || p.Label() != "" || p.SyncLatency != 0 || p.Jitter != 0 {
		t.Fatalf("native profile %+v", p)
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"unknown", "floppy"},
		{"empty", ""},
		{"case matters", "HDD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := diskprofile.Lookup(tt.in)
			if !errors.Is(err, diskprofile.ErrUnknownProfile) {
				t.Fatalf("Lookup(%q) = %v, want ErrUnknownProfile", tt.in, err)
			}
			for _, known := range diskprofile.Names() {
				if !strings.Contains(err.Error(), known) {
					t.Fatalf("error %q does not list %q", err, known)
				}
			}
		})
	}
}

func TestFixed(t *testing.T) {
	tests := []struct {
		name      string
		d         time.Duration
		wantErr   error
		wantLabel string
	}{
		{"two milliseconds", 2 * time.Millisecond, nil, "disk-sync-latency:2ms"},
		{"zero is native", 0, nil, ""},
		{"negative", -time.Millisecond, diskprofile.ErrBadLatency, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := diskprofile.Fixed(tt.d)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fixed(%v) = %v, want %v", tt.d, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.Label() != tt.wantLabel || p.Emulated != (tt.d > 0) || p.SyncLatency != tt.d {
				t.Fatalf("Fixed(%v) = %+v, label %q", tt.d, p, p.Label())
			}
			if got := syncOnce(t, diskprofile.Wrap(vfs.NewMem(), p)); got < tt.d {
				t.Fatalf("Sync took %v, want at least %v", got, tt.d)
			}
		})
	}
}

// TestBackendStatsMarkedEmulated checks the label reaches a file backend's
// Stats, so results taken on an emulated disk say so.
func TestBackendStatsMarkedEmulated(t *testing.T) {
	p, err := diskprofile.Lookup("ssd-2015")
	if err != nil {
		t.Fatal(err)
	}
	b, err := fsync.Open(logbackends.Env{Dir: "/log", FS: diskprofile.Wrap(vfs.NewMem(), p)}, fsync.Config{SegmentSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Stats().Emulated; !slices.Equal(got, []string{"disk-profile:ssd-2015"}) {
		t.Fatalf("Stats.Emulated = %v", got)
	}
}
