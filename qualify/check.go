package qualify

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Verdict is what a check, or the whole qualification, concludes.
type Verdict string

// Verdicts, from best to worst; Skip means the check did not run and says
// why, and counts as a pass for the overall verdict.
const (
	Pass Verdict = "pass"
	Warn Verdict = "warn"
	Fail Verdict = "fail"
	Skip Verdict = "skip"
)

// rank orders verdicts for Worst: a skipped check does not lower the
// verdict of the others.
func (v Verdict) rank() int {
	switch v {
	case Warn:
		return 2
	case Fail:
		return 3
	}
	return 1
}

// Worst is the overall verdict of checks: the worst of them, skipped ones
// counting as passed. No checks at all is a pass.
func Worst(checks []Check) Verdict {
	worst := Pass
	for _, c := range checks {
		if c.Verdict.rank() > worst.rank() {
			worst = c.Verdict
		}
	}
	return worst
}

// Check is one line of the verdict: a measured or read value, the
// threshold it is judged against and where that threshold comes from. The
// first block of fields is the qualify.json contract.
type Check struct {
	Name string `json:"name"`
	// Value is in Unit; a yes/no fact has unit "bool" and value 1 or 0.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Threshold is the limit whose crossing gives the worst verdict the
	// check can give (Severity): the fail limit when the profile sets one,
	// else the warn limit.
	Threshold float64 `json:"threshold"`
	Verdict   Verdict `json:"verdict"`
	Source    string  `json:"source"`

	// Additions to the contract.
	// Peer is the host:port a network check measured.
	Peer string `json:"peer,omitempty"`
	// Op is how the value must compare with the threshold to pass: "<"
	// (the value must stay below it) or ">=" (it must reach it).
	Op string `json:"op"`
	// Severity is the verdict crossing Threshold gives: "fail" or "warn".
	Severity Verdict `json:"severity"`
	// WarnThreshold is the warn limit of a check that has both limits.
	WarnThreshold *float64 `json:"warn_threshold,omitempty"`
	// Text says what the value is in words where a number does not ("ext4
	// rw,relatime", "write back").
	Text string `json:"text,omitempty"`
	// Reason says why the verdict: always set for skip, warn and fail.
	Reason string `json:"reason,omitempty"`
	// Details are further figures behind the value, each name carrying its
	// unit ("p50_ms", "samples").
	Details map[string]float64 `json:"details,omitempty"`
	// Emulated marks a value measured on something standing in for the
	// real thing (a persistent-memory region emulated in DRAM).
	Emulated bool `json:"emulated,omitempty"`
}

// Key identifies a check within one result: its name and, for network
// checks, the peer.
func (c Check) Key() string {
	if c.Peer == "" {
		return c.Name
	}
	return c.Name + "@" + c.Peer
}

// direction is which side of a threshold passes.
type direction int

const (
	below   direction = iota // the value must stay below the threshold
	atLeast                  // the value must reach the threshold
)

func (d direction) op() string {
	if d == below {
		return "<"
	}
	return ">="
}

// checkDef describes a check: its unit, which way is good and what it
// measures.
type checkDef struct {
	name  string
	unit  string
	dir   direction
	title string
	// relative thresholds are multiples of the profile's planned database
	// size, the value being in GiB.
	relative bool
}

// checkDefs lists every check adrbench qualify makes, in the order the
// table shows them. A function rather than a package table, so no caller
// can change what another sees.
func checkDefs() []checkDef {
	return []checkDef{
		{name: "disk.wal_fdatasync_p99", unit: "ms", dir: below, title: "WAL pattern: 2300-byte sequential writes, each followed by fdatasync; fdatasync p99 measured in Go"},
		{name: "disk.wal_iops", unit: "IOPS", dir: atLeast, title: "WAL pattern: 2300-byte write+fdatasync pairs per second"},
		{name: "disk.wal8k_fdatasync_p99", unit: "ms", dir: below, title: "WAL pattern with 8000-byte writes (OpenShift's job): fdatasync p99"},
		{name: "disk.wal8k_iops", unit: "IOPS", dir: atLeast, title: "8000-byte write+fdatasync pairs per second"},
		{name: "disk.commit_p99", unit: "ms", dir: below, title: "backend-commit pattern: a batch of random 4 KiB page writes, fdatasync, a meta page, fdatasync; p99 of the whole commit"},
		{name: "disk.fio_wal_fdatasync_p99", unit: "ms", dir: below, title: "fio with etcd's job on the same directory: fdatasync p99"},
		{name: "disk.go_fio_disagreement", unit: "%", dir: below, title: "how far the Go and fio fdatasync p99 disagree (medians of interleaved rounds)"},
		{name: "disk.fs_durable", unit: "bool", dir: atLeast, title: "the file system keeps data across a power loss (not tmpfs or ramfs)"},
		{name: "disk.barriers", unit: "bool", dir: atLeast, title: "cache flushes are on (no nobarrier or barrier=0 mount option)"},
		{name: "disk.data_ordering", unit: "bool", dir: atLeast, title: "file data is ordered with its metadata (no ext4 data=writeback)"},
		{name: "disk.write_cache", unit: "bool", dir: atLeast, title: "writes reach stable storage at fdatasync: no volatile write cache, or one the kernel flushes"},
		{name: "disk.rotational", unit: "bool", dir: below, title: "the device is a spinning disk"},
		{name: "disk.free_space", unit: "GiB", dir: atLeast, title: "free space on the file system against the planned database size", relative: true},
		{name: "pmem.present", unit: "count", dir: atLeast, title: "persistent-memory namespaces and devices (/sys/bus/nd, /dev/dax*, /dev/pmem*)"},
		{name: "pmem.map_sync", unit: "bool", dir: atLeast, title: "the kernel accepts MAP_SYNC for a file in the directory (fs-DAX)"},
		{name: "pmem.flush_instructions", unit: "count", dir: atLeast, title: "cache-line flush instructions the CPU has (CLWB, CLFLUSHOPT, CLFLUSH)"},
		{name: "pmem.persistence_domain", unit: "bool", dir: atLeast, title: "the regions' persistence domain is ADR (memory_controller) or eADR (cpu_cache)"},
		{name: "pmem.flush_fence_p99", unit: "ns", dir: below, title: "flush and fence of one cache line of a region: p99"},
		{name: "pmem.adr_durable", unit: "bool", dir: atLeast, title: "the adr log backend can run durably here (a real region, a persistence domain, a flush instruction)"},
		{name: "cpu.cores", unit: "count", dir: atLeast, title: "logical CPUs"},
		{name: "cpu.governor", unit: "bool", dir: atLeast, title: "the frequency governor is performance"},
		{name: "cpu.steal", unit: "%", dir: below, title: "CPU time the hypervisor took (steal), sampled over the run"},
		{name: "cpu.writes_per_core", unit: "writes/s", dir: atLeast, title: "writes per CPU-second of a one-member store on the memory log backend, client included"},
		{name: "memory.total", unit: "GiB", dir: atLeast, title: "installed memory"},
		{name: "memory.available", unit: "GiB", dir: atLeast, title: "available memory against the planned database size", relative: true},
		{name: "memory.swap", unit: "bool", dir: below, title: "swap is enabled"},
		{name: "memory.thp", unit: "bool", dir: below, title: "transparent huge pages are 'always'"},
		{name: "net.rtt_p99", unit: "ms", dir: below, title: "round trip to a peer: p99"},
		{name: "net.loss", unit: "%", dir: below, title: "probes to a peer unanswered within the probe timeout"},
		{name: "net.throughput", unit: "Mbit/s", dir: atLeast, title: "TCP throughput to and from a peer, the lower direction"},
		{name: "clock.synchronized", unit: "bool", dir: atLeast, title: "the kernel reports the system clock synchronized (adjtimex)"},
		{name: "e2e.highest_tier", unit: "tier", dir: atLeast, title: "highest etcdctl-check-perf tier a one-member adrbench on the directory sustains (0 none, 1 s, 2 m, 3 l, 4 xl)"},
	}
}

// checkDefNamed finds a check's definition.
func checkDefNamed(name string) (checkDef, bool) {
	for _, d := range checkDefs() {
		if d.name == name {
			return d, true
		}
	}
	return checkDef{}, false
}

// checkNames lists the names of every check.
func checkNames() []string {
	var names []string
	for _, d := range checkDefs() {
		names = append(names, d.name)
	}
	return names
}

// judge makes the check name with value under profile p: its unit,
// limits, source and verdict. The profile has been validated, so every
// check has a threshold.
func judge(p Profile, name string, value float64) Check {
	c := newCheck(p, name)
	c.Value = value
	d, _ := checkDefNamed(name)
	lim := p.limits(d)
	switch {
	case lim.fail != nil && crosses(d.dir, value, *lim.fail):
		c.Verdict = Fail
		c.Reason = describeCross(d, value, *lim.fail)
	case lim.warn != nil && crosses(d.dir, value, *lim.warn):
		c.Verdict = Warn
		c.Reason = describeCross(d, value, *lim.warn)
	default:
		c.Verdict = Pass
	}
	return c
}

// skipped is check name, not run, with the reason.
func skipped(p Profile, name, reason string) Check {
	c := newCheck(p, name)
	c.Verdict, c.Reason = Skip, reason
	return c
}

// failed is check name, failed without a value because what it measures
// could not be measured, with the reason.
func failed(p Profile, name, reason string) Check {
	c := newCheck(p, name)
	c.Verdict, c.Reason = Fail, reason
	return c
}

// newCheck fills what a check takes from its definition and the profile.
func newCheck(p Profile, name string) Check {
	d, ok := checkDefNamed(name)
	if !ok {
		// Every caller names a defined check; the tests walk them all.
		panic(fmt.Sprintf("qualify: check %q is not defined", name))
	}
	lim := p.limits(d)
	c := Check{Name: name, Unit: d.unit, Op: d.dir.op(), Source: p.Thresholds[name].Source}
	switch {
	case lim.fail != nil:
		c.Threshold, c.Severity = *lim.fail, Fail
		if lim.warn != nil {
			w := *lim.warn
			c.WarnThreshold = &w
		}
	case lim.warn != nil:
		c.Threshold, c.Severity = *lim.warn, Warn
	}
	return c
}

// crosses says whether value is on the bad side of limit.
func crosses(dir direction, value, limit float64) bool {
	if math.IsNaN(value) {
		return true
	}
	if dir == below {
		return value >= limit
	}
	return value < limit
}

func describeCross(d checkDef, value, limit float64) string {
	if d.unit == "bool" {
		return fmt.Sprintf("%s (want %s)", formatValue(value, d.unit), formatValue(boolValue(d.dir == atLeast), d.unit))
	}
	op := "≥"
	if d.dir == atLeast {
		op = "<"
	}
	return fmt.Sprintf("%s %s %s", formatValue(value, d.unit), op, formatValue(limit, d.unit))
}

// formatValue writes a value with its unit for people: "1.23 ms", "yes".
func formatValue(v float64, unit string) string {
	switch unit {
	case "bool":
		if v >= 1 {
			return "yes"
		}
		return "no"
	case "tier":
		return tierName(int(v))
	case "count":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return formatNumber(v) + " " + unit
}

// formatNumber writes v with three significant digits (whole numbers
// from 100 up), without trailing zeros or an exponent: "10", "3.66",
// "0.0826", "2153".
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	decimals := 2 - int(math.Floor(math.Log10(a)))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatThreshold is the threshold as the table shows it: "< 10 ms".
func formatThreshold(c Check) string {
	if c.Severity == "" {
		return ""
	}
	s := c.Op + " " + formatValue(c.Threshold, c.Unit)
	if c.Unit == "bool" {
		if (c.Op == ">=") == (c.Threshold >= 1) {
			s = "yes"
		} else {
			s = "no"
		}
	}
	if c.Severity == Warn {
		s += " (warn)"
	}
	return s
}
