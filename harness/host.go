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
	"syscall"

	"github.com/adrbench/adrbench/results"
)

// ProbeHost describes this machine from /proc and uname: CPU model and
// count, memory, kernel, and the file system and device dataDir lives on
// ("" means the working directory). What cannot be read is left empty
// rather than failing the run.
func ProbeHost(ctx context.Context, dataDir string) results.Host {
	h := results.Host{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		h.CPU = cpuModel(bufio.NewScanner(f))
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		h.MemoryBytes = memTotal(bufio.NewScanner(f))
		f.Close()
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		h.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
	}
	if ctx.Err() != nil {
		return h
	}
	if dataDir == "" {
		dataDir = "."
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		if f, err := os.Open("/proc/self/mountinfo"); err == nil {
			h.Disk = mountOf(bufio.NewScanner(f), abs)
			f.Close()
		}
	}
	return h
}

func cpuModel(sc *bufio.Scanner) string {
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal(sc *bufio.Scanner) uint64 {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func utsString[T int8 | uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// mountOf finds the mount holding path in /proc/self/mountinfo (the longest
// mount point that prefixes it) and describes it as "fstype source on
// mountpoint".
func mountOf(sc *bufio.Scanner, path string) string {
	best, desc := -1, ""
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
			best, desc = len(mp), fmt.Sprintf("%s %s on %s", qf[0], qf[1], mp)
		}
	}
	return desc
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
