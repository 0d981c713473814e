package adrlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/segment"
)

func TestConfigFlags(t *testing.T) {
	regionFlags := "--adr-region-kind, --adr-region-path, --adr-region-size, --adr-media-latency"
	conformance.Flags(t, DefaultConfig(), []conformance.FlagCase[Config]{
		{Name: "defaults", Want: DefaultConfig()},
		{Name: "a device", Args: []string{"--adr-region-kind=devdax", "--adr-region-path=/dev/dax0.0", "--adr-region-size=0"},
			Want: Config{Region: adr.RegionConfig{Kind: adr.KindDevDax, Path: "/dev/dax0.0"}, SegmentSize: segment.DefaultSegmentSize, RingFullTimeout: DefaultRingFullTimeout}},
		{Name: "slower media", Args: []string{"--adr-media-latency=300ns", "--adr-segment-size=1048576"},
			Want: Config{Region: adr.RegionConfig{Kind: adr.KindEmulated, Size: adr.DefaultRegionSize, MediaLatency: 300 * time.Nanosecond}, SegmentSize: 1 << 20, RingFullTimeout: DefaultRingFullTimeout}},
		{Name: "reset and a shorter wait", Args: []string{"--adr-region-reset", "--adr-ring-full-timeout=5s"},
			Want: Config{Region: adr.DefaultRegionConfig(), SegmentSize: segment.DefaultSegmentSize, RegionReset: true, RingFullTimeout: 5 * time.Second}},
		{Name: "negative ring-full timeout", Args: []string{"--adr-ring-full-timeout=-1s"}, WantErr: "--adr-ring-full-timeout"},
		{Name: "unknown kind", Args: []string{"--adr-region-kind=nvdimm"}, WantErr: regionFlags, Is: adr.ErrRegionConfig},
		{Name: "size off the page size", Args: []string{"--adr-region-size=5000"}, WantErr: regionFlags, Is: adr.ErrRegionConfig},
		{Name: "devdax without a path", Args: []string{"--adr-region-kind=devdax"}, WantErr: regionFlags, Is: adr.ErrRegionConfig},
		{Name: "zero segment size", Args: []string{"--adr-segment-size=0"}, WantErr: "--adr-segment-size"},
	})
}

// TestDestroy opens the backend on its default region, which lives on
// tmpfs outside the log directory, and checks Destroy takes both away; a
// region at a configured path is the operator's and stays.
func TestDestroy(t *testing.T) {
	tests := []struct {
		name        string
		configured  bool // the region is at a path the configuration names
		wantRegion  bool // the region file is still there after Destroy
		regionOfDir func(dir, tmp string) string
	}{
		{name: "default emulated region", regionOfDir: func(dir, _ string) string { return adr.DefaultEmulatedPath(dir) }},
		{name: "region at a configured path", configured: true, wantRegion: true,
			regionOfDir: func(_, tmp string) string { return filepath.Join(tmp, "region.pmem") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, "wal")
			region := tt.regionOfDir(dir, tmp)
			t.Cleanup(func() { os.Remove(region) })
			cfg := DefaultConfig()
			cfg.Region.Size = 1 << 20
			if tt.configured {
				cfg.Region.Path = region
			}
			e := NewEntry(cfg)
			b, err := e.Open(logbackends.Env{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Save(conformance.HardState(1, 0), conformance.Entries(1, 3, 1), nil, true); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(region); err != nil {
				t.Fatalf("region %s after Close: %v", region, err)
			}
			if err := e.Destroy(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("log dir after Destroy: %v", err)
			}
			if _, err := os.Stat(region); (err == nil) != tt.wantRegion {
				t.Fatalf("region %s after Destroy: %v, want it kept: %v", region, err, tt.wantRegion)
			}
			if err := e.Destroy(dir); err != nil {
				t.Fatalf("a second Destroy: %v", err)
			}
		})
	}
}
