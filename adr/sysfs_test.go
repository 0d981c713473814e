package adr

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeSysfs builds a sysfs tree under root in which the device major:minor
// of type typ ("char" or "block") links to dev below an nvdimm region
// whose persistence_domain is domain (no file when domain is "-"), with
// the given attributes in the device directory.
func fakeSysfs(t *testing.T, typ string, major, minor uint32, dev, domain string, attrs map[string]string) string {
	t.Helper()
	root := t.TempDir()
	region := filepath.Join(root, "devices", "ndbus0", "region0")
	devDir := filepath.Join(region, dev)
	if err := os.MkdirAll(devDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if domain != "-" {
		if err := os.WriteFile(filepath.Join(region, "persistence_domain"), []byte(domain+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, v := range attrs {
		if err := os.WriteFile(filepath.Join(devDir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := sysfsDevDir(root, typ, major, minor)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(devDir, link); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestPersistenceDomain(t *testing.T) {
	tests := []struct {
		name, dev, domain string
		want              string
	}{
		{"devdax adr", "dax0.0", "memory_controller", "memory_controller"},
		{"devdax eadr", "dax0.0", "cpu_cache", "cpu_cache"},
		{"pmem partition walks up", "namespace0.0/block/pmem0/pmem0p1", "cpu_cache", "cpu_cache"},
		{"not reported", "dax0.0", "-", ""},
		{"empty attribute", "dax0.0", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeSysfs(t, "block", 259, 1, tc.dev, tc.domain, nil)
			if got := persistenceDomain(root, sysfsDevDir(root, "block", 259, 1)); got != tc.want {
				t.Fatalf("persistenceDomain = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("missing device", func(t *testing.T) {
		root := t.TempDir()
		if got := persistenceDomain(root, sysfsDevDir(root, "char", 1, 2)); got != "" {
			t.Fatalf("persistenceDomain = %q", got)
		}
	})
}

func TestDomainOf(t *testing.T) {
	tests := []struct {
		reported, want string
		warns          bool
	}{
		{"cpu_cache", DomainCPUCache, false},
		{"memory_controller", DomainMemoryController, false},
		{"", DomainMemoryController, true},
		{"flux_capacitor", DomainMemoryController, true},
	}
	for _, tc := range tests {
		t.Run("reported="+tc.reported, func(t *testing.T) {
			got, warning := domainOf(tc.reported)
			if got != tc.want || (warning != "") != tc.warns {
				t.Fatalf("domainOf(%q) = %q, %q", tc.reported, got, warning)
			}
		})
	}
}

func TestSysfsInt(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "device"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"size": "4096\n", "device/align": "0x200000\n", "bad": "lots\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		want int64
		ok   bool
	}{
		{"size", 4096, true},
		{"align", 2 << 20, true},
		{"bad", 0, false},
		{"missing", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sysfsInt(dir, tc.name)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("sysfsInt(%s) = %d, %v", tc.name, got, ok)
			}
		})
	}
}
