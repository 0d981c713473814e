package adrlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/segment"
)

func TestConfigFlags(t *testing.T) {
	regionFlags := "--adr-region-kind, --adr-region-path, --adr-region-size, --adr-media-latency"
	tests := []struct {
		name      string
		args      []string
		want      Config
		wantErr   string // what the error must start with; "" for none
		wantIsAdr bool   // the error also wraps adr.ErrRegionConfig
	}{
		{name: "defaults", want: DefaultConfig()},
		{name: "a device", args: []string{"--adr-region-kind=devdax", "--adr-region-path=/dev/dax0.0", "--adr-region-size=0"},
			want: Config{Region: adr.RegionConfig{Kind: adr.KindDevDax, Path: "/dev/dax0.0"}, SegmentSize: segment.DefaultSegmentSize}},
		{name: "slower media", args: []string{"--adr-media-latency=300ns", "--adr-segment-size=1048576"},
			want: Config{Region: adr.RegionConfig{Kind: adr.KindEmulated, Size: adr.DefaultRegionSize, MediaLatency: 300 * time.Nanosecond}, SegmentSize: 1 << 20}},
		{name: "unknown kind", args: []string{"--adr-region-kind=nvdimm"}, wantErr: regionFlags, wantIsAdr: true},
		{name: "size off the page size", args: []string{"--adr-region-size=5000"}, wantErr: regionFlags, wantIsAdr: true},
		{name: "devdax without a path", args: []string{"--adr-region-kind=devdax"}, wantErr: regionFlags, wantIsAdr: true},
		{name: "zero segment size", args: []string{"--adr-segment-size=0"}, wantErr: "--adr-segment-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
			cfg.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if tt.wantErr != "" {
				if !errors.Is(err, logbackends.ErrBadConfig) || !strings.HasPrefix(err.Error(), tt.wantErr+":") ||
					tt.wantIsAdr != errors.Is(err, adr.ErrRegionConfig) {
					t.Fatalf("Validate = %v, want ErrBadConfig starting %q (region error: %v)", err, tt.wantErr, tt.wantIsAdr)
				}
				return
			}
			if err != nil || cfg.Region != tt.want.Region || cfg.SegmentSize != tt.want.SegmentSize {
				t.Fatalf("config %+v, %v; want %+v", cfg, err, tt.want)
			}
		})
	}
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
