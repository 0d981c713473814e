package adrlog

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
)

// TestWarnRegion checks the lines an operator sees at startup for every
// region that is not plain persistent memory, one line each, naming the
// flag and what is lost, and none for a region that is.
func TestWarnRegion(t *testing.T) {
	refused := "the kernel refused MAP_SYNC for /dev/shm/r.pmem (operation not supported): not a DAX file system; mapped as an emulated region"
	tests := []struct {
		name string
		kind string // configured
		info adr.Info
		want []string // one per line, each a part of it
	}{
		{"devdax", adr.KindDevDax, adr.Info{Kind: adr.KindDevDax, Path: "/dev/dax0.0", Domain: adr.DomainMemoryController}, nil},
		{"emulated", adr.KindEmulated, adr.Info{Kind: adr.KindEmulated, Path: "/dev/shm/r.pmem", Emulated: true},
			[]string{"--adr-region-kind emulated: region /dev/shm/r.pmem is a file mapped from the page cache (on tmpfs by default), not persistent memory: it survives a crash of the process, not a power loss or a reboot"}},
		{"auto fell back to the page cache", adr.KindAuto, adr.Info{Kind: adr.KindEmulated, Path: "/dev/shm/r.pmem", Emulated: true, Warning: refused},
			[]string{"--adr-region-kind auto: " + refused + ": it survives a crash of the process, not a power loss or a reboot; then acknowledged writes not yet drained to disk are lost"}},
		{"fsdax without MAP_SYNC", adr.KindFSDax, adr.Info{Kind: adr.KindFSDax, Path: "/mnt/pmem/r", Warning: "the kernel refused MAP_SYNC; every Fence calls msync(MS_SYNC)"},
			[]string{"--adr-region-kind fsdax: the kernel refused MAP_SYNC; every Fence calls msync(MS_SYNC)"}},
		{"slower media on a device", adr.KindDevDax, adr.Info{Kind: adr.KindDevDax, Path: "/dev/dax0.0", Emulated: true, MediaLatency: 300 * time.Nanosecond},
			[]string{"--adr-media-latency 300ns: the region's write latency is emulated"}},
		{"slower media on an emulated region", adr.KindEmulated, adr.Info{Kind: adr.KindEmulated, Path: "/dev/shm/r.pmem", Emulated: true, MediaLatency: time.Microsecond},
			[]string{"--adr-region-kind emulated: region /dev/shm/r.pmem is a file", "--adr-media-latency 1µs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			b := &Backend{info: tt.info, log: slog.New(slog.NewTextHandler(&buf, nil))}
			b.warnRegion(tt.kind)
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if buf.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("logged %d lines, want %d:\n%s", len(lines), len(tt.want), &buf)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], "level=WARN") || !strings.Contains(lines[i], w) {
					t.Errorf("line %d = %s\nwant a WARN with %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestAutoRegionFallbackIsSaid opens the backend with --adr-region-kind
// auto on a file of an ordinary file system, which the kernel will not
// map with MAP_SYNC: the region is emulated, Stats says so, and the
// fallback is logged at startup, naming the flag.
func TestAutoRegionFallbackIsSaid(t *testing.T) {
	dir := t.TempDir()
	var logged bytes.Buffer
	env := logbackends.Env{Dir: filepath.Join(dir, "wal"), Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	cfg := DefaultConfig()
	cfg.Region = adr.RegionConfig{Kind: adr.KindAuto, Path: filepath.Join(dir, "region"), Size: 1 << 20}
	b, err := Open(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if k := b.Stats().Fact(FactRegionKind); k != adr.KindEmulated {
		t.Skipf("the kernel mapped %s as %s: this file system has DAX, so there is no fallback to see", cfg.Region.Path, k)
	}
	if !slices.Contains(b.Stats().Emulated, "adr-region:emulated") {
		t.Fatalf("stats say emulated %v", b.Stats().Emulated)
	}
	if !strings.Contains(logged.String(), "--adr-region-kind auto: the kernel refused MAP_SYNC for "+cfg.Region.Path) {
		t.Fatalf("the fallback was not logged:\n%s", &logged)
	}
}
