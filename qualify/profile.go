package qualify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is a set of thresholds, each with its source. Its YAML form is
// what --profile FILE.yaml reads (configs/qualify-etcd.yaml shows every
// field); a file is decoded over the etcd profile, so a check it does not
// name keeps etcd's threshold, and a check it names takes the file's
// threshold whole.
type Profile struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	// PlannedDBBytes is the size the database may grow to: free disk
	// space and available memory are judged against it.
	PlannedDBBytes  int64  `yaml:"planned_db_bytes" json:"planned_db_bytes"`
	PlannedDBSource string `yaml:"planned_db_source" json:"planned_db_source"`
	// RequirePMem makes missing persistent memory a failure: for servers
	// meant to run the adr log backend.
	RequirePMem bool        `yaml:"require_pmem" json:"require_pmem"`
	E2E         E2ECriteria `yaml:"e2e" json:"e2e"`
	// Thresholds are keyed by check name (disk.wal_fdatasync_p99, ...).
	// Those of disk.free_space and memory.available are multiples of
	// PlannedDBBytes.
	Thresholds map[string]Threshold `yaml:"thresholds" json:"thresholds"`
}

// Threshold is where a check turns to warn and to fail. Fail, Warn or both
// are set. For a check whose value must stay below its limit (latency)
// the value fails when it reaches Fail; for one that must reach its limit
// (IOPS) it fails when it is below Fail.
type Threshold struct {
	Fail   *float64 `yaml:"fail,omitempty" json:"fail,omitempty"`
	Warn   *float64 `yaml:"warn,omitempty" json:"warn,omitempty"`
	Source string   `yaml:"source" json:"source"`
}

// E2ECriteria is what a tier of the end-to-end check must meet: etcdctl
// check perf's criteria plus a p99 bound. The tier the server must reach is
// the threshold of e2e.highest_tier (1 = s, 2 = m, 3 = l, 4 = xl).
type E2ECriteria struct {
	// MinRatePct is the share of the tier's target rate the server must
	// complete; MaxSlowestMs, MaxStdDevMs and MaxP99Ms bound the latency,
	// measured from each put's intended send time.
	MinRatePct   float64 `yaml:"min_rate_pct" json:"min_rate_pct"`
	MaxSlowestMs float64 `yaml:"max_slowest_ms" json:"max_slowest_ms"`
	MaxStdDevMs  float64 `yaml:"max_stddev_ms" json:"max_stddev_ms"`
	MaxP99Ms     float64 `yaml:"max_p99_ms" json:"max_p99_ms"`
	Source       string  `yaml:"source" json:"source"`
}

// Built-in profile names.
const (
	ProfileEtcd      = "etcd"
	ProfileOpenShift = "openshift"
)

// ProfileNames lists the built-in profiles.
func ProfileNames() []string { return []string{ProfileEtcd, ProfileOpenShift} }

func num(v float64) *float64 { return &v }

// EtcdProfile holds etcd's documented thresholds, and adrbench's own where
// etcd documents none (their sources say so). configs/qualify-etcd.yaml
// is the same profile as a file; a test keeps the two equal.
func EtcdProfile() Profile {
	return Profile{
		Name:            ProfileEtcd,
		Description:     "etcd's documented disk, hardware and tuning guidance",
		PlannedDBBytes:  2 << 30,
		PlannedDBSource: "etcd's default backend quota (--quota-backend-bytes): 2 GiB",
		E2E: E2ECriteria{
			MinRatePct: 90, MaxSlowestMs: 500, MaxStdDevMs: 100, MaxP99Ms: 100,
			Source: "etcdctl check perf: no errors, >= 90% of the target rate, slowest <= 500 ms, stddev <= 100 ms; " +
				"adrbench adds p99 <= 100 ms (check perf has no percentile criterion) and measures from the intended send time",
		},
		Thresholds: map[string]Threshold{
			"disk.wal_fdatasync_p99":     {Fail: num(10), Source: "etcd FAQ: WAL fsync p99 < 10 ms (fio's etcd job, 2300-byte writes)"},
			"disk.wal_iops":              {Fail: num(50), Warn: num(500), Source: "etcd hardware guide: at least 50 sequential IOPS, 500 for heavily loaded clusters"},
			"disk.wal8k_fdatasync_p99":   {Warn: num(10), Source: "OpenShift's 8000-byte variant of etcd's job, held to etcd's 10 ms as a warning (etcd documents 2300-byte writes)"},
			"disk.wal8k_iops":            {Warn: num(50), Source: "etcd hardware guide: at least 50 sequential IOPS (8000-byte writes: a warning only)"},
			"disk.commit_p99":            {Fail: num(25), Source: "etcd FAQ: backend commit p99 < 25 ms"},
			"disk.fio_wal_fdatasync_p99": {Fail: num(10), Source: "etcd docs: fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300, fdatasync p99 < 10 ms"},
			"disk.go_fio_disagreement":   {Warn: num(25), Source: "adrbench: Go and fio time the same pattern; more than 25% apart means one of them measures something else"},
			"disk.fs_durable":            {Fail: num(1), Source: "tmpfs and ramfs keep nothing across a power loss: raft's stable-storage rule is broken"},
			"disk.barriers":              {Fail: num(1), Source: "nobarrier/barrier=0 let the device keep data in its volatile cache after fdatasync returns"},
			"disk.data_ordering":         {Warn: num(1), Source: "ext4 data=writeback: after a crash, files may hold stale blocks that fdatasync never covered"},
			"disk.write_cache":           {Fail: num(1), Source: "a volatile write cache the kernel does not flush loses acknowledged writes on power loss (/sys/block/*/queue/write_cache)"},
			"disk.rotational":            {Warn: num(1), Source: "etcd hardware guide: SSDs are recommended; a spinning disk barely meets 50 sequential IOPS"},
			"disk.free_space":            {Fail: num(1), Warn: num(2), Source: "the database may grow to the planned size; defragmentation writes a copy of it, so twice that is comfortable"},
			"pmem.present":               {Fail: num(1), Source: "the adr log backend needs a persistent-memory region (devdax or fs-DAX)"},
			"pmem.map_sync":              {Fail: num(1), Source: "fs-DAX: MAP_SYNC makes a file's metadata durable on write fault, so a flush and fence suffice"},
			"pmem.flush_instructions":    {Fail: num(1), Source: "on ADR a store is durable only after CLWB, CLFLUSHOPT or CLFLUSH and SFENCE"},
			"pmem.persistence_domain":    {Fail: num(1), Source: "kernel nvdimm regions: persistence_domain memory_controller (ADR) or cpu_cache (eADR)"},
			"pmem.flush_fence_p99":       {Warn: num(5000), Source: "adrbench: persistent memory on the memory bus persists a line in well under a microsecond (Optane DC PMM: about 0.1 us); 5 us means something slow is in between"},
			"pmem.adr_durable":           {Fail: num(1), Source: "the adr backend's promise: an entry is durable once flushed and fenced into a real region"},
			"cpu.cores":                  {Warn: num(2), Source: "etcd hardware guide: typical clusters need two to four cores"},
			"cpu.governor":               {Warn: num(1), Source: "etcd tuning guide: set the CPU frequency governor to performance"},
			"cpu.steal":                  {Warn: num(5), Source: "adrbench: steal above 5% means the hypervisor withholds CPU the leader needs for heartbeats and applies"},
			"cpu.writes_per_core":        {Fail: num(100), Warn: num(1250), Source: "etcd hardware guide examples: 200 req/s on 2 vCPUs (small, 100 per core) to 10,000 req/s on 8 vCPUs (large, 1,250 per core)"},
			"memory.total":               {Warn: num(8), Source: "etcd hardware guide: 8 GB is typically enough; heavy deployments need 16 to 64 GB"},
			"memory.available":           {Fail: num(1), Warn: num(2), Source: "etcd hardware guide: performance depends on caching the key space in memory; bbolt maps the whole database"},
			"memory.swap":                {Warn: num(1), Source: "adrbench: a swapped-out page of bbolt's mapping turns a read or commit into disk I/O; Kubernetes control planes run without swap"},
			"memory.thp":                 {Warn: num(1), Source: "adrbench: transparent huge pages 'always' stalls allocations on compaction; databases that map their files (MongoDB, Redis) advise against it"},
			"net.rtt_p99":                {Fail: num(100), Source: "etcd tuning guide: election timeout >= 10x RTT; with the default 1000 ms timeout RTT must stay under 100 ms"},
			"net.loss":                   {Fail: num(1), Warn: num(0.1), Source: "adrbench: a probe unanswered within the timeout stalls raft's stream as a lost heartbeat would"},
			"net.throughput":             {Warn: num(900), Source: "etcd hardware guide: 1 GbE is sufficient for common deployments (about 940 Mbit/s of TCP)"},
			"clock.synchronized":         {Warn: num(1), Source: "leases and TLS assume synchronized clocks; etcd warns when members' clocks differ by more than 1 s"},
			"e2e.highest_tier":           {Fail: num(1), Source: "etcdctl check perf's default load is tier s (150 puts/s, 50 clients); at least that is required"},
		},
	}
}

// OpenShiftProfile holds OpenShift's thresholds for control-plane
// machines, and etcd's where OpenShift has none.
// configs/qualify-openshift.yaml is the same profile as a file.
func OpenShiftProfile() Profile {
	p := EtcdProfile()
	p.Name = ProfileOpenShift
	p.Description = "OpenShift's etcd and control-plane guidance, etcd's elsewhere"
	p.PlannedDBBytes = 8 << 30
	p.PlannedDBSource = "OpenShift sets etcd's backend quota to 8 GiB"
	p.Thresholds = maps.Clone(p.Thresholds)
	p.Thresholds["disk.wal8k_fdatasync_p99"] = Threshold{Fail: num(10), Source: "OpenShift docs: fdatasync p99 < 10 ms with 8000-byte writes (the etcd-perf container only warns at >= 20 ms)"}
	p.Thresholds["disk.wal8k_iops"] = Threshold{Fail: num(50), Warn: num(500), Source: "OpenShift docs: at least 50 sequential 8000-byte IOPS (10 ms each), 500 (2 ms) for busy clusters"}
	p.Thresholds["net.rtt_p99"] = Threshold{Fail: num(50), Source: "OpenShift docs: peer round trip p99 < 50 ms"}
	p.Thresholds["cpu.cores"] = Threshold{Fail: num(4), Source: "OpenShift minimum for a control-plane machine: 4 vCPUs"}
	p.Thresholds["memory.total"] = Threshold{Fail: num(15), Source: "OpenShift minimum for a control-plane machine: 16 GB RAM (the kernel reports about 15.5 GiB of it)"}
	return p
}

// LoadProfile returns the built-in profile called arg, or reads arg as a
// YAML file when it is not a built-in name.
func LoadProfile(arg string) (Profile, error) {
	switch arg {
	case ProfileEtcd:
		return EtcdProfile(), nil
	case ProfileOpenShift:
		return OpenShiftProfile(), nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Profile{}, fmt.Errorf("%w: %q is neither a built-in profile (%s) nor a file",
				ErrProfile, arg, strings.Join(ProfileNames(), ", "))
		}
		return Profile{}, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	return ParseProfile(arg, data)
}

// ParseProfile decodes a profile file (name is used in errors) over the
// etcd profile, refusing unknown fields, and validates it. The file must
// give its own name.
func ParseProfile(name string, data []byte) (Profile, error) {
	p := EtcdProfile()
	// A file names itself: results must not say "etcd" for thresholds
	// that are not etcd's.
	p.Name, p.Description = "", ""
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return Profile{}, fmt.Errorf("%w: %s: %s", ErrProfile, name, yamlMessage(err))
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// yamlMessage is yaml's error on one line, an unknown field named as such.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:")
	// yaml.v3 reports an unknown field as "line N: field X not found in
	// type T"; the type is ours, not the user's.
	unknown := regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	if m := unknown.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("line %s: unknown field %q", m[1], m[2])
	}
	return strings.Join(strings.Fields(msg), " ")
}

// Validate checks p without side effects and names the first bad field.
func (p Profile) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrProfile}, args...)...)
	}
	if p.Name == "" {
		return bad("name is empty")
	}
	if p.PlannedDBBytes <= 0 {
		return bad("planned_db_bytes %d: want > 0", p.PlannedDBBytes)
	}
	e := p.E2E
	for _, f := range []struct {
		name string
		v    float64
	}{{"min_rate_pct", e.MinRatePct}, {"max_slowest_ms", e.MaxSlowestMs}, {"max_stddev_ms", e.MaxStdDevMs}, {"max_p99_ms", e.MaxP99Ms}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return bad("e2e.%s %v: want a number > 0", f.name, f.v)
		}
	}
	if e.MinRatePct > 100 {
		return bad("e2e.min_rate_pct %v: want at most 100", e.MinRatePct)
	}
	names := slices.Sorted(maps.Keys(p.Thresholds))
	for _, n := range names {
		if _, ok := checkDefNamed(n); !ok {
			return bad("thresholds: unknown check %q (known: %s)", n, strings.Join(checkNames(), ", "))
		}
	}
	for _, d := range checkDefs() {
		t, ok := p.Thresholds[d.name]
		if !ok {
			return bad("thresholds.%s is missing", d.name)
		}
		if t.Fail == nil && t.Warn == nil {
			return bad("thresholds.%s: neither fail nor warn is set", d.name)
		}
		if t.Source == "" {
			return bad("thresholds.%s: source is empty (say where the threshold comes from)", d.name)
		}
		for _, v := range []*float64{t.Fail, t.Warn} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				return bad("thresholds.%s: %v is not a number", d.name, *v)
			}
		}
		if d.unit == "tier" {
			for _, v := range []*float64{t.Fail, t.Warn} {
				if v != nil && (*v != math.Trunc(*v) || tierName(int(*v)) == "none") {
					return bad("thresholds.%s: %v is not a tier (1 = s, 2 = m, 3 = l, 4 = xl)", d.name, *v)
				}
			}
		}
		if t.Fail != nil && t.Warn != nil {
			// The warn limit must come before the fail limit.
			if (d.dir == below && *t.Warn > *t.Fail) || (d.dir == atLeast && *t.Warn < *t.Fail) {
				return bad("thresholds.%s: warn %v lies beyond fail %v", d.name, *t.Warn, *t.Fail)
			}
		}
	}
	return nil
}

// limits are a check's warn and fail limits in the check's unit.
type limits struct{ warn, fail *float64 }

// limits resolves a check's threshold: relative ones become GiB.
func (p Profile) limits(d checkDef) limits {
	t := p.Thresholds[d.name]
	l := limits{warn: t.Warn, fail: t.Fail}
	if d.relative {
		gib := float64(p.PlannedDBBytes) / (1 << 30)
		if l.warn != nil {
			l.warn = num(*l.warn * gib)
		}
		if l.fail != nil {
			l.fail = num(*l.fail * gib)
		}
	}
	return l
}
