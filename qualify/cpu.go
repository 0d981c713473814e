package qualify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
)

// cpuTimes is a reading of the machine's CPU time counters.
type cpuTimes struct {
	steal, total float64
	ok           bool
}

// readCPUTimes reads /proc/stat's totals through gopsutil.
func readCPUTimes(ctx context.Context) cpuTimes {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil || len(ts) == 0 {
		return cpuTimes{}
	}
	t := ts[0]
	total := t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	return cpuTimes{steal: t.Steal, total: total, ok: true}
}

// stealPct is the share of CPU time stolen between two readings.
func stealPct(a, b cpuTimes) (float64, bool) {
	if !a.ok || !b.ok || b.total <= a.total {
		return 0, false
	}
	return 100 * (b.steal - a.steal) / (b.total - a.total), true
}

// governors reads every CPU's frequency governor under sys; none when the
// kernel has no cpufreq (most VMs: the hypervisor sets the frequency).
func governors(sys string) []string {
	paths, _ := filepath.Glob(filepath.Join(sys, "devices", "system", "cpu", "cpu[0-9]*", "cpufreq", "scaling_governor"))
	var out []string
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	return out
}

// governorCheck passes when every CPU runs the performance governor.
func governorCheck(p Profile, govs []string) Check {
	if len(govs) == 0 {
		return skipped(p, "cpu.governor", "no cpufreq in sysfs: the frequency is not under the kernel's control (a VM, or a fixed-frequency CPU)")
	}
	all := true
	for _, g := range govs {
		all = all && g == "performance"
	}
	c := judge(p, "cpu.governor", boolValue(all))
	u := slices.Compact(slices.Sorted(slices.Values(govs)))
	c.Text = strings.Join(u, ", ")
	return c
}

// cpuGroup reports the model, cores, governor, steal since the run began
// and the measured write capacity of a one-member store.
func (r *runner) cpuGroup(ctx context.Context) error {
	model := ""
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		model = strings.TrimSpace(infos[0].ModelName)
	}
	c := judge(r.prof, "cpu.cores", float64(runtime.NumCPU()))
	c.Text = model
	r.add(c)
	r.add(governorCheck(r.prof, governors("/sys")))

	r.prog.begin("cpu: write capacity of a one-member store on the memory log backend", r.dur.CPU+2*time.Second)
	capRes, err := r.measureCapacity(ctx)
	r.prog.end()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		r.add(failed(r.prof, "cpu.writes_per_core", "could not measure: "+err.Error()))
	} else {
		c := judge(r.prof, "cpu.writes_per_core", capRes.perCore())
		c.Details = map[string]float64{"writes_per_s": capRes.throughput, "cpu_s": capRes.cpuS,
			"cpu_per_write_us": capRes.cpuPerWriteUs(), "writes": float64(capRes.ops), "clients": float64(capRes.clients)}
		c.Text = fmt.Sprintf("%s writes/s using %s cores; %s us of CPU per write (server and client in one process)",
			formatNumber(capRes.throughput), formatNumber(capRes.cpuS/capRes.seconds), formatNumber(capRes.cpuPerWriteUs()))
		r.add(c)
	}

	steal, ok := stealPct(r.cpu0, readCPUTimes(ctx))
	if !ok {
		r.add(skipped(r.prof, "cpu.steal", "cannot read CPU times from /proc/stat"))
	} else {
		c := judge(r.prof, "cpu.steal", steal)
		c.Text = fmt.Sprintf("over the %s s of qualification so far", formatNumber(r.sinceStart().Seconds()))
		r.add(c)
	}
	return nil
}

// capacity is what the write-capacity measurement found.
type capacity struct {
	ops        int64
	seconds    float64
	cpuS       float64
	throughput float64
	clients    int
}

func (c capacity) perCore() float64 {
	if c.cpuS <= 0 {
		return 0
	}
	return float64(c.ops) / c.cpuS
}

func (c capacity) cpuPerWriteUs() float64 {
	if c.ops == 0 {
		return 0
	}
	return c.cpuS / float64(c.ops) * 1e6
}
