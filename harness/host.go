package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/process"

	"github.com/adrbench/adrbench/results"
)

// ProbeHost describes this machine: CPU model and count, memory and kernel
// through gopsutil, and the file system, device and (from sysfs) disk model
// that dataDir lives on ("" means the working directory). What cannot be
// read is left empty rather than failing the run.
//
// The mount is found in /proc/self/mountinfo rather than with gopsutil's
// disk.Partitions, which reads PID 1's mount table: in a container that is
// another mount namespace, or unreadable, and names the wrong file system.
func ProbeHost(ctx context.Context, dataDir string) results.Host {
	h := results.Host{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		h.CPU = strings.TrimSpace(infos[0].ModelName)
	}
	if n, err := cpu.CountsWithContext(ctx, false); err == nil {
		h.PhysicalCores = n
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		h.MemoryBytes = vm.Total
	}
	if info, err := host.InfoWithContext(ctx); err == nil {
		h.Kernel = strings.TrimSpace(info.OS + " " + info.KernelVersion + " " + info.KernelArch)
	}
	if ctx.Err() != nil {
		return h
	}
	if dataDir == "" {
		dataDir = "."
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return h
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return h
	}
	m, ok := mountEntryOf(bufio.NewScanner(f), abs)
	f.Close()
	if !ok {
		return h
	}
	h.Disk = m.String()
	h.DiskFSType, h.DiskDevice, h.DiskMount = m.fsType, m.source, m.point
	h.DiskModel, h.DiskRotational = blockDevice("/sys", m.source)
	return h
}

// ProcessCPU is the user plus system CPU time the processes pids have used
// so far, for targets whose servers run in processes of their own.
func ProcessCPU(ctx context.Context, pids ...int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		p, err := process.NewProcessWithContext(ctx, int32(pid))
		if err != nil {
			return 0, fmt.Errorf("%w: process %d: %w", ErrTarget, pid, err)
		}
		t, err := p.TimesWithContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("%w: cpu time of process %d: %w", ErrTarget, pid, err)
		}
		total += time.Duration((t.User + t.System) * float64(time.Second))
	}
	return total, nil
}

// mount is one line of mountinfo.
type mount struct{ fsType, source, point string }

func (m mount) String() string { return fmt.Sprintf("%s %s on %s", m.fsType, m.source, m.point) }

// mountOf finds the mount holding path in a mountinfo listing and describes
// it as "fstype source on mountpoint"; "" when none does.
func mountOf(sc *bufio.Scanner, path string) string {
	m, ok := mountEntryOf(sc, path)
	if !ok {
		return ""
	}
	return m.String()
}

// mountEntryOf finds the mount holding path: the longest mount point that
// prefixes it.
func mountEntryOf(sc *bufio.Scanner, path string) (mount, bool) {
	best, found := -1, mount{}
	for sc.Scan() {
		// Fields: id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 2 {
			continue
		}
		mp := unescapeMount(pf[4])
		if !(path == mp || mp == "/" || strings.HasPrefix(path, mp+"/")) {
			continue
		}
		if len(mp) > best {
			best, found = len(mp), mount{fsType: qf[0], source: unescapeMount(qf[1]), point: mp}
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

// blockDevice reads the model and rotational flag of the disk behind a
// device node such as /dev/nvme0n1p2 from sysfs rooted at sys; a partition
// is described by its whole disk. Anything that is not a block device
// (tmpfs, overlay, a network file system) gives "", nil.
func blockDevice(sys, source string) (model string, rotational *bool) {
	name, ok := strings.CutPrefix(source, "/dev/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(sys, "class", "block", name))
	if err != nil {
		return "", nil
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "device", "model")); err == nil {
		model = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "queue", "rotational")); err == nil {
		r := strings.TrimSpace(string(b)) == "1"
		rotational = &r
	}
	return model, rotational
}
