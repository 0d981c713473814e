package qualify

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/shirou/gopsutil/v3/mem"
)

// thpMode is the bracketed choice of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
func thpMode(s string) string {
	m := regexp.MustCompile(`\[(\w+)\]`).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// memoryGroup reports installed and available memory against the planned
// database, swap and transparent huge pages.
func (r *runner) memoryGroup(ctx context.Context) error {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		r.add(skipped(r.prof, "memory.total", "cannot read memory: "+err.Error()))
		r.add(skipped(r.prof, "memory.available", "cannot read memory: "+err.Error()))
	} else {
		r.add(judge(r.prof, "memory.total", float64(vm.Total)/(1<<30)))
		c := judge(r.prof, "memory.available", float64(vm.Available)/(1<<30))
		c.Text = fmt.Sprintf("planned database %s GiB (%s)", formatNumber(float64(r.prof.PlannedDBBytes)/(1<<30)), r.prof.PlannedDBSource)
		r.add(c)
	}
	if sw, err := mem.SwapMemoryWithContext(ctx); err != nil {
		r.add(skipped(r.prof, "memory.swap", "cannot read swap: "+err.Error()))
	} else {
		c := judge(r.prof, "memory.swap", boolValue(sw.Total > 0))
		c.Text = fmt.Sprintf("%s GiB of swap, %s GiB used", formatNumber(float64(sw.Total)/(1<<30)), formatNumber(float64(sw.Used)/(1<<30)))
		r.add(c)
	}
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	mode := thpMode(string(b))
	if err != nil || mode == "" {
		r.add(skipped(r.prof, "memory.thp", "the kernel does not report transparent huge pages"))
	} else {
		c := judge(r.prof, "memory.thp", boolValue(mode == "always"))
		c.Text = mode
		r.add(c)
	}
	return ctx.Err()
}
