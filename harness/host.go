package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/process"

	"github.com/adrbench/adrbench/internal/mountinfo"
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
	m, err := mountinfo.OfDir(dataDir)
	if err != nil {
		return h
	}
	h.Disk = m.String()
	h.DiskFSType, h.DiskDevice, h.DiskMount = m.FSType, m.Source, m.Point
	h.DiskModel, h.DiskRotational = blockDevice("/sys", m.Source)
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
