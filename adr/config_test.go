package adr

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestRegionConfigValidate(t *testing.T) {
	good := DefaultRegionConfig()
	tests := []struct {
		name  string
		cfg   RegionConfig
		field string // "" when valid
	}{
		{"default", good, ""},
		{"auto without path", RegionConfig{Size: 4096}, ""},
		{"devdax size 0", RegionConfig{Kind: KindDevDax, Path: "/dev/dax0.0"}, ""},
		{"unknown kind", RegionConfig{Kind: "nvme", Size: 4096}, "kind"},
		{"devdax without path", RegionConfig{Kind: KindDevDax, Size: 4096}, "path"},
		{"fsdax without path", RegionConfig{Kind: KindFSDax, Size: 4096}, "path"},
		{"negative size", RegionConfig{Kind: KindEmulated, Size: -4096}, "size"},
		{"size not a page multiple", RegionConfig{Kind: KindEmulated, Size: 5000}, "size"},
		{"sim without size", RegionConfig{Kind: KindSim}, "size"},
		{"negative media latency", RegionConfig{Kind: KindEmulated, Size: 4096, MediaLatency: -time.Microsecond}, "media_latency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrRegionConfig) {
				t.Fatalf("Validate() = %v, want ErrRegionConfig", err)
			}
			if !strings.Contains(err.Error(), ": "+tc.field+": ") {
				t.Fatalf("Validate() = %q does not name field %q", err, tc.field)
			}
		})
	}
}

func TestRegionConfigResolve(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		cfg      RegionConfig
		wantKind string
		wantPath string
	}{
		{"empty kind becomes auto with default path", RegionConfig{}, KindAuto, DefaultEmulatedPath(dir)},
		{"emulated gets default path", RegionConfig{Kind: KindEmulated}, KindEmulated, DefaultEmulatedPath(dir)},
		{"explicit path kept", RegionConfig{Kind: KindEmulated, Path: "/x"}, KindEmulated, "/x"},
		{"devdax path not invented", RegionConfig{Kind: KindDevDax}, KindDevDax, ""},
		{"sim path not invented", RegionConfig{Kind: KindSim}, KindSim, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.Resolve(dir)
			if got.Kind != tc.wantKind || got.Path != tc.wantPath {
				t.Fatalf("Resolve = kind %q path %q, want %q %q", got.Kind, got.Path, tc.wantKind, tc.wantPath)
			}
		})
	}
}

func TestDefaultEmulatedPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	pa := DefaultEmulatedPath(a)
	if pa != DefaultEmulatedPath(a) || pa != DefaultEmulatedPath(a+"/.") {
		t.Fatalf("path of %s is not deterministic: %s", a, pa)
	}
	if pa == DefaultEmulatedPath(b) {
		t.Fatalf("two data dirs share %s", pa)
	}
	if runtime.GOOS == "linux" && filepath.Dir(pa) != "/dev/shm" {
		t.Fatalf("emulated region %s is not on /dev/shm", pa)
	}
	base := filepath.Base(pa)
	if !strings.HasPrefix(base, "adrbench-") || !strings.HasSuffix(base, ".pmem") {
		t.Fatalf("unexpected name %s", base)
	}
	t.Chdir(a)
	if rel := DefaultEmulatedPath("."); rel != pa {
		t.Fatalf("relative data dir maps to %s, absolute to %s", rel, pa)
	}
}

func TestRegionConfigRoundTrip(t *testing.T) {
	cfg := RegionConfig{Kind: KindFSDax, Path: "/mnt/pmem/log", Size: 8 << 20, MediaLatency: 300 * time.Nanosecond}
	t.Run("yaml", func(t *testing.T) {
		b, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got RegionConfig
		if err := yaml.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got != cfg {
			t.Fatalf("round trip %+v, want %+v", got, cfg)
		}
	})
	t.Run("yaml duration string", func(t *testing.T) {
		var got RegionConfig
		if err := yaml.Unmarshal([]byte("kind: emulated\nsize: 4096\nmedia_latency: 2us\n"), &got); err != nil {
			t.Fatal(err)
		}
		if got.MediaLatency != 2*time.Microsecond || got.Size != 4096 || got.Kind != KindEmulated {
			t.Fatalf("decoded %+v", got)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got RegionConfig
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got != cfg {
			t.Fatalf("round trip %+v, want %+v", got, cfg)
		}
	})
}
