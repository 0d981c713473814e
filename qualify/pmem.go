package qualify

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v3/cpu"

	"github.com/adrbench/adrbench/internal/mountinfo"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
)

// pmemFacts is what the system says about persistent memory.
type pmemFacts struct {
	// Namespaces are /sys/bus/nd/devices/namespaceN.M with a size, and
	// their mode (fsdax, devdax, raw, sector).
	Namespaces []string `json:"namespaces,omitempty"`
	// Devices are /dev/dax* and /dev/pmem* nodes.
	Devices []string `json:"devices,omitempty"`
	// Domains maps each nvdimm region to its persistence_domain.
	Domains map[string]string `json:"persistence_domains,omitempty"`
	// DAXMounts are mount points with the dax option.
	DAXMounts []string `json:"dax_mounts,omitempty"`
	// Flushes are the cache-line flush instructions the CPU reports.
	Flushes []string `json:"flush_instructions"`
}

// readPMemFacts reads sysfs (rooted at sys), /dev and the mount table.
func readPMemFacts(ctx context.Context, sys, dev string, mounts []mountinfo.Mount) pmemFacts {
	var f pmemFacts
	nd := filepath.Join(sys, "bus", "nd", "devices")
	ents, _ := os.ReadDir(nd)
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "namespace"):
			size, _ := os.ReadFile(filepath.Join(nd, name, "size"))
			if s := strings.TrimSpace(string(size)); s == "" || s == "0" {
				continue // an idle seed namespace
			}
			mode, _ := os.ReadFile(filepath.Join(nd, name, "mode"))
			f.Namespaces = append(f.Namespaces, name+" ("+strings.TrimSpace(string(mode))+")")
		case strings.HasPrefix(name, "region"):
			if d, err := os.ReadFile(filepath.Join(nd, name, "persistence_domain")); err == nil {
				if f.Domains == nil {
					f.Domains = map[string]string{}
				}
				f.Domains[name] = strings.TrimSpace(string(d))
			}
		}
	}
	devs, _ := os.ReadDir(dev)
	for _, e := range devs {
		if n := e.Name(); strings.HasPrefix(n, "dax") || strings.HasPrefix(n, "pmem") {
			f.Devices = append(f.Devices, filepath.Join(dev, n))
		}
	}
	for _, m := range mounts {
		if m.HasOption("dax") || m.HasOption("dax=always") {
			f.DAXMounts = append(f.DAXMounts, m.Point)
		}
	}
	f.Flushes = cpuFlushes(ctx)
	return f
}

// cpuFlushes lists the flush instructions among the CPU's flags, best
// first, as the kernel reports them in /proc/cpuinfo.
func cpuFlushes(ctx context.Context) []string {
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil || len(infos) == 0 {
		return []string{}
	}
	out := []string{}
	for _, want := range []string{"clwb", "clflushopt", "clflush"} {
		if slices.Contains(infos[0].Flags, want) {
			out = append(out, want)
		}
	}
	return out
}

// present counts the devices, or the namespaces when no device node is
// visible (a container without /dev/pmem* may still see sysfs).
func (f pmemFacts) present() int {
	if len(f.Devices) > 0 {
		return len(f.Devices)
	}
	return len(f.Namespaces)
}

func (f pmemFacts) hasDevDax() bool {
	return slices.ContainsFunc(f.Devices, func(d string) bool { return strings.HasPrefix(filepath.Base(d), "dax") })
}

// pmemGroup reports persistent memory: what is there, whether MAP_SYNC
// works on the directory, the CPU's flushes, the regions' persistence
// domain, the flush+fence latency and, from all that, whether the adr log
// backend can run durably here.
func (r *runner) pmemGroup(ctx context.Context) error {
	var mounts []mountinfo.Mount
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		mounts = mountinfo.Parse(f)
		f.Close()
	}
	facts := readPMemFacts(ctx, "/sys", "/dev", mounts)
	r.host.PMem = &facts
	r.prog.begin("pmem: MAP_SYNC probe and flush+fence latency", 0)
	probe, perr := adrlog.ProbeRegion(r.work, r.dur.PMemFlushes)
	r.prog.end()
	for _, c := range pmemChecks(r.prof, facts, probe, perr) {
		r.add(c)
	}
	return ctx.Err()
}

// pmemChecks judges the facts and the probe. Without persistent memory a
// profile that does not require it gets skips that say why; one that does
// gets failures.
func pmemChecks(p Profile, f pmemFacts, probe adrlog.RegionProbe, probeErr error) []Check {
	var out []Check
	n := f.present()
	noPMem := "not present (no namespaces in /sys/bus/nd, no /dev/dax* or /dev/pmem*)"
	notRequired := "; profile " + p.Name + " does not require persistent memory"
	orSkip := func(c Check, why string) Check {
		if p.RequirePMem {
			if c.Reason == "" {
				c.Reason = why
			}
			return c
		}
		s := skipped(p, c.Name, why+notRequired)
		s.Value, s.Text, s.Details, s.Emulated = c.Value, c.Text, c.Details, c.Emulated
		return s
	}

	c := judge(p, "pmem.present", float64(n))
	c.Text = strings.Join(append(slices.Clone(f.Devices), f.Namespaces...), ", ")
	if n == 0 {
		c.Text = "not present"
		c = orSkip(c, noPMem)
	}
	out = append(out, c)

	mapSync := probeErr == nil && probe.MapSync
	c = judge(p, "pmem.map_sync", boolValue(mapSync))
	switch {
	case probeErr != nil:
		c = orSkip(c, "could not map a region in the directory: "+probeErr.Error())
	case mapSync:
		c.Text = "accepted: the directory is on fs-DAX"
	default:
		c.Text = "refused: not a DAX file system"
		why := "the kernel refused MAP_SYNC for a file in the directory (not fs-DAX)"
		if len(f.DAXMounts) > 0 {
			why += "; fs-DAX mounts: " + strings.Join(f.DAXMounts, ", ") + " (qualify with --dir there)"
		}
		if f.hasDevDax() {
			// devdax needs no MAP_SYNC: the refusal does not matter.
			c = skipped(p, c.Name, why+"; a devdax device is present, which needs no MAP_SYNC")
			c.Value = 0
		} else {
			c = orSkip(c, why)
		}
	}
	out = append(out, c)

	c = judge(p, "pmem.flush_instructions", float64(len(f.Flushes)))
	c.Text = strings.Join(f.Flushes, ", ")
	if probeErr == nil {
		c.Text += "; the adr backend would use " + probe.Flush
	}
	switch {
	case len(f.Flushes) == 0 && allEADR(f.Domains):
		c = skipped(p, c.Name, "eADR: the CPU caches are in the persistence domain, so no flush is needed, only a fence")
	case len(f.Flushes) == 0 && n == 0:
		c = orSkip(c, "the CPU reports no cache-line flush instruction, and there is no persistent memory to flush to")
	}
	out = append(out, c)

	domainsOK := len(f.Domains) > 0
	var ds []string
	for _, region := range slices.Sorted(maps.Keys(f.Domains)) {
		d := f.Domains[region]
		ds = append(ds, region+": "+d)
		if !adrlog.DurableDomain(d) {
			domainsOK = false
		}
	}
	c = judge(p, "pmem.persistence_domain", boolValue(domainsOK))
	c.Text = strings.Join(ds, ", ")
	if len(f.Domains) == 0 {
		c.Text = "no nvdimm regions"
		c = orSkip(c, "no nvdimm region reports a persistence_domain")
	}
	out = append(out, c)

	real := (mapSync || f.hasDevDax()) && domainsOK && (len(f.Flushes) > 0 || allEADR(f.Domains))
	if probeErr != nil {
		out = append(out, orSkip(failed(p, "pmem.flush_fence_p99", ""), "could not map a region: "+probeErr.Error()))
	} else {
		c = judge(p, "pmem.flush_fence_p99", probe.P99Ns)
		c.Details = map[string]float64{"p50_ns": probe.P50Ns, "max_ns": probe.MaxNs, "flushes": float64(probe.Flushes)}
		c.Text = fmt.Sprintf("p50 %s ns with %s on a %s region", formatNumber(probe.P50Ns), probe.Flush, probe.Kind)
		if probe.Emulated {
			c.Emulated = true
			c.Text += " (emulated: DRAM, not persistent memory)"
			s := skipped(p, c.Name, "measured on an emulated region: what the flush and fence instructions cost in DRAM, "+
				"not persistent media; the adr backend cannot run durably on emulation")
			s.Value, s.Text, s.Details, s.Emulated = c.Value, c.Text, c.Details, true
			if p.RequirePMem {
				s.Verdict = Fail
			}
			c = s
		}
		out = append(out, c)
	}

	c = judge(p, "pmem.adr_durable", boolValue(real))
	if real {
		c.Text = "yes: a real region with a persistence domain and a flush instruction"
	} else {
		c.Text = "no: only an emulated region (tmpfs), which a power loss erases"
		c = orSkip(c, "the adr backend cannot run durably here: without persistent memory it runs on an emulated region, which survives a process crash but not a power loss")
	}
	out = append(out, c)
	return out
}

func allEADR(domains map[string]string) bool {
	if len(domains) == 0 {
		return false
	}
	for _, d := range domains {
		if !adrlog.CacheDomain(d) {
			return false
		}
	}
	return true
}
