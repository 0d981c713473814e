package adr

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Reading what the kernel says about a device. The sysfs root is a
// parameter (always "/sys" outside tests) so that tests can build a fake
// tree; nothing here writes.

// sysfsDevDir is the sysfs directory of a device number: typ is "char"
// (devdax) or "block" (the pmem device under an fsdax file system).
func sysfsDevDir(sysfs, typ string, major, minor uint32) string {
	return filepath.Join(sysfs, "dev", typ, fmt.Sprintf("%d:%d", major, minor))
}

// persistenceDomain finds the persistence_domain of the nvdimm region that
// holds the device whose sysfs directory is dir, by resolving its link and
// walking up to the regionN directory (devdax: .../regionN/daxN.M;
// pmem: .../regionN/namespaceN.M/block/pmemN[/pmemNp1]). It returns "" when
// no ancestor reports one: not an nvdimm device, or a kernel without the
// attribute.
func persistenceDomain(sysfs, dir string) string {
	root, err := filepath.EvalSymlinks(sysfs)
	if err != nil {
		return ""
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	for strings.HasPrefix(d, root) && d != root {
		b, err := os.ReadFile(filepath.Join(d, "persistence_domain"))
		if err == nil {
			if v := strings.TrimSpace(string(b)); v != "" {
				return v
			}
		}
		d = filepath.Dir(d)
	}
	return ""
}

// domainOf turns what sysfs reported into a Domain constant and, when it
// had to assume, a warning. Anything but cpu_cache is treated as ADR: a
// flush is never wrong, only slower.
func domainOf(reported string) (domain, warning string) {
	switch reported {
	case DomainCPUCache, DomainMemoryController:
		return reported, ""
	case "":
		return DomainMemoryController, "persistence domain not reported by sysfs; assuming memory_controller (ADR): lines are flushed"
	}
	return DomainMemoryController, fmt.Sprintf("unknown persistence domain %q; assuming memory_controller (ADR): lines are flushed", reported)
}

// sysfsInt reads a decimal attribute (size, align) from dir or, on older
// kernels that put device attributes one level down, dir/device.
func sysfsInt(dir, name string) (int64, bool) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, "device", name)} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 0, 64)
		if err == nil {
			return v, true
		}
	}
	return 0, false
}
