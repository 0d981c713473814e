package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fakeSys lays out the sysfs entries blockDevice reads: a whole disk with a
// partition, and a class/block link for each.
func fakeSys(t *testing.T) string {
	t.Helper()
	sys := t.TempDir()
	disk := filepath.Join(sys, "devices", "pci0", "nvme", "nvme0n1")
	part := filepath.Join(disk, "nvme0n1p2")
	for _, d := range []string{filepath.Join(disk, "device"), filepath.Join(disk, "queue"), part, filepath.Join(sys, "class", "block")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(disk, "device", "model"):     "Fast Disk 9000   \n",
		filepath.Join(disk, "queue", "rotational"): "0\n",
		filepath.Join(part, "partition"):           "2\n",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"nvme0n1": disk, "nvme0n1p2": part} {
		if err := os.Symlink(target, filepath.Join(sys, "class", "block", name)); err != nil {
			t.Fatal(err)
		}
	}
	return sys
}

func TestBlockDevice(t *testing.T) {
	sys := fakeSys(t)
	tests := []struct {
		name, source, model string
		known               bool
	}{
		{"partition", "/dev/nvme0n1p2", "Fast Disk 9000", true},
		{"whole disk", "/dev/nvme0n1", "Fast Disk 9000", true},
		{"tmpfs", "tmpfs", "", false},
		{"overlay", "overlay", "", false},
		{"missing", "/dev/sdz", "", false},
		{"path escape", "/dev/../etc", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model, rot := blockDevice(sys, tc.source)
			if model != tc.model || (rot != nil) != tc.known || rot != nil && *rot {
				t.Fatalf("blockDevice(%q) = %q, %v; want %q, known %v, not rotational", tc.source, model, rot, tc.model, tc.known)
			}
		})
	}
}

func TestProbeHostGopsutil(t *testing.T) {
	h := ProbeHost(context.Background(), t.TempDir())
	if h.Cores < 1 || h.Kernel == "" || h.MemoryBytes == 0 {
		t.Errorf("host probe %+v", h)
	}
	if h.Disk == "" || h.DiskFSType == "" || h.DiskMount == "" {
		t.Errorf("no file system for the data directory: %+v", h)
	}
}

func TestProcessCPU(t *testing.T) {
	self := os.Getpid()
	d, err := ProcessCPU(context.Background(), self)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("this process used %v of CPU", d)
	}
	if _, err := ProcessCPU(context.Background(), 1<<30); err == nil {
		t.Error("CPU time of a process that does not exist")
	}
}
