package qualify

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// mountInfo is the mount holding a directory, from /proc/self/mountinfo:
// this process's mount namespace, which in a container is not PID 1's.
type mountInfo struct {
	Point  string `json:"mount_point"`
	FSType string `json:"fs_type"`
	Source string `json:"source"`
	// MajorMinor is the device number of the file system ("254:0").
	MajorMinor string `json:"major_minor"`
	// Options are the per-mount options (rw,relatime), SuperOptions the
	// file system's own (data=ordered, barrier=0, dax).
	Options      []string `json:"options"`
	SuperOptions []string `json:"super_options"`
}

// allOptions lists both kinds of options.
func (m mountInfo) allOptions() []string {
	return append(slices.Clone(m.Options), m.SuperOptions...)
}

// hasOption reports whether the mount has option name (exactly, or as
// name=value when name ends with '=').
func (m mountInfo) hasOption(name string) bool {
	for _, o := range m.allOptions() {
		if o == name || (strings.HasSuffix(name, "=") && strings.HasPrefix(o, name)) {
			return true
		}
	}
	return false
}

// optionValue returns the value of key=value among the options.
func (m mountInfo) optionValue(key string) (string, bool) {
	for _, o := range m.allOptions() {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// readMounts parses a mountinfo listing.
func readMounts(r io.Reader) []mountInfo {
	var ms []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 6 || len(qf) < 2 {
			continue
		}
		m := mountInfo{
			MajorMinor: pf[2],
			Point:      unescapeMount(pf[4]),
			Options:    strings.Split(pf[5], ","),
			FSType:     qf[0],
			Source:     unescapeMount(qf[1]),
		}
		if len(qf) > 2 {
			m.SuperOptions = strings.Split(qf[2], ",")
		}
		ms = append(ms, m)
	}
	return ms
}

// mountOf returns the mount holding the absolute path: the last-mounted of
// those with the longest mount point prefixing it (a later mount over the
// same point hides the earlier one).
func mountOf(ms []mountInfo, path string) (mountInfo, bool) {
	best, found := -1, mountInfo{}
	for _, m := range ms {
		mp := m.Point
		if !(path == mp || mp == "/" || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) {
			continue
		}
		if len(mp) >= best {
			best, found = len(mp), m
		}
	}
	return found, best >= 0
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// mountOfDir reads this process's mount table and finds dir's mount.
func mountOfDir(dir string) (mountInfo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return mountInfo{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountInfo{}, err
	}
	defer f.Close()
	m, ok := mountOf(readMounts(f), abs)
	if !ok {
		return mountInfo{}, fmt.Errorf("no mount holds %s", abs)
	}
	return m, nil
}

// volatileFS are file systems whose contents do not survive a power loss.
func volatileFS(fsType string) bool {
	return fsType == "tmpfs" || fsType == "ramfs"
}

// barriersOff reports the mount option that turns cache flushes off, ""
// when there is none.
func barriersOff(m mountInfo) string {
	for _, o := range m.allOptions() {
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
func blockDevOf(sys string, m mountInfo) (blockDev, bool) {
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
