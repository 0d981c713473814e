package qualify

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/adrbench/adrbench/internal/mountinfo"
)

// volatileFS are file systems whose contents do not survive a power loss.
func volatileFS(fsType string) bool {
	return fsType == "tmpfs" || fsType == "ramfs"
}

// barriersOff reports the mount option that turns cache flushes off, ""
// when there is none.
func barriersOff(m mountinfo.Mount) string {
	for _, o := range m.AllOptions() {
		switch o {
		case "nobarrier", "barrier=0":
			return o
		}
	}
	return ""
}

// blockDev is the block device under a file system, from sysfs.
type blockDev struct {
	Name string `json:"name"` // the whole disk: vda, nvme0n1
	// WriteCache is queue/write_cache: "write back" (a volatile cache
	// the kernel flushes on fdatasync) or "write through".
	WriteCache string `json:"write_cache"`
	Rotational *bool  `json:"rotational,omitempty"`
	Model      string `json:"model,omitempty"`
}

// blockDevOf finds the disk behind a mount through its device number
// (/sys/dev/block/MAJ:MIN), which works for device-mapper and partitions
// alike; a partition is described by its whole disk. sys is the sysfs
// root. ok is false for file systems without a block device (tmpfs,
// overlay, network).
func blockDevOf(sys string, m mountinfo.Mount) (blockDev, bool) {
	dir, err := filepath.EvalSymlinks(filepath.Join(sys, "dev", "block", m.MajorMinor))
	if err != nil {
		return blockDev{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir)
	}
	d := blockDev{Name: filepath.Base(dir)}
	read := func(rel string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return "", false
		}
		return strings.TrimSpace(string(b)), true
	}
	d.WriteCache, _ = read("queue/write_cache")
	if r, ok := read("queue/rotational"); ok {
		rot := r == "1"
		d.Rotational = &rot
	}
	d.Model, _ = read("device/model")
	return d, true
}
