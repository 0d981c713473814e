package qualify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrbench/adrbench/internal/mountinfo"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
)

func bptr(b bool) *bool { return &b }

func TestWriteCacheCheck(t *testing.T) {
	p := EtcdProfile()
	tests := []struct {
		name       string
		cache      string
		barrierOff string
		want       Verdict
	}{
		{"write through", "write through", "", Pass},
		{"write back, flushed", "write back", "", Pass},
		{"write back, nobarrier", "write back", "nobarrier", Fail},
		{"write back, barrier=0", "write back", "barrier=0", Fail},
		{"write through ignores barriers", "write through", "nobarrier", Pass},
		{"unreadable", "", "", Skip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := writeCacheCheck(p, blockDev{Name: "sda", WriteCache: tt.cache}, tt.barrierOff)
			if c.Verdict != tt.want {
				t.Fatalf("%+v, want %s", c, tt.want)
			}
			if c.Verdict != Pass && c.Reason == "" {
				t.Errorf("no reason: %+v", c)
			}
		})
	}
}

func TestRotationalCheck(t *testing.T) {
	p := EtcdProfile()
	tests := []struct {
		name     string
		rot      *bool
		measured bool
		p50      float64
		want     Verdict
	}{
		{"solid state", bptr(false), true, 0.2, Pass},
		{"spinning, syncs like one", bptr(true), true, 8.3, Warn},
		{"spinning flag, syncs like flash", bptr(true), true, 0.3, Pass},
		{"spinning flag, not measured", bptr(true), false, 0, Warn},
		{"unknown", nil, true, 0.3, Skip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rotationalCheck(p, blockDev{Name: "vda", Rotational: tt.rot}, tt.measured, tt.p50)
			if c.Verdict != tt.want {
				t.Fatalf("%+v, want %s", c, tt.want)
			}
		})
	}
}

func TestGovernorCheck(t *testing.T) {
	p := EtcdProfile()
	tests := []struct {
		name string
		govs []string
		want Verdict
	}{
		{"performance everywhere", []string{"performance", "performance"}, Pass},
		{"one powersave", []string{"performance", "powersave"}, Warn},
		{"schedutil", []string{"schedutil"}, Warn},
		{"no cpufreq", nil, Skip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := governorCheck(p, tt.govs); c.Verdict != tt.want {
				t.Fatalf("%+v, want %s", c, tt.want)
			}
		})
	}
}

func TestGovernorsFromSysfs(t *testing.T) {
	sys := t.TempDir()
	for cpu, gov := range map[string]string{"cpu0": "performance", "cpu1": "powersave"} {
		dir := filepath.Join(sys, "devices", "system", "cpu", cpu, "cpufreq")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scaling_governor"), []byte(gov+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := governors(sys)
	if len(got) != 2 || got[0] != "performance" || got[1] != "powersave" {
		t.Fatalf("governors = %v", got)
	}
}

func TestClockCheck(t *testing.T) {
	p := EtcdProfile()
	tests := []struct {
		name   string
		synced bool
		want   Verdict
	}{
		{"synchronized", true, Pass},
		{"unsynchronized", false, Warn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clockCheck(p, tt.synced, 16000, 16000)
			if c.Verdict != tt.want || c.Details["max_error_ms"] != 16000 {
				t.Fatalf("%+v, want %s", c, tt.want)
			}
		})
	}
}

func TestStealPct(t *testing.T) {
	tests := []struct {
		name   string
		a, b   cpuTimes
		want   float64
		wantOK bool
	}{
		{"ten percent", cpuTimes{steal: 10, total: 100, ok: true}, cpuTimes{steal: 20, total: 200, ok: true}, 10, true},
		{"none", cpuTimes{steal: 5, total: 100, ok: true}, cpuTimes{steal: 5, total: 300, ok: true}, 0, true},
		{"no time passed", cpuTimes{total: 100, ok: true}, cpuTimes{total: 100, ok: true}, 0, false},
		{"unreadable", cpuTimes{}, cpuTimes{steal: 1, total: 2, ok: true}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stealPct(tt.a, tt.b)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("stealPct = %v, %v", got, ok)
			}
		})
	}
	p := EtcdProfile()
	if c := judge(p, "cpu.steal", 7.5); c.Verdict != Warn {
		t.Fatalf("7.5%% steal: %+v", c)
	}
}

func TestTHPMode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"madvise", "always [madvise] never\n", "madvise"},
		{"always", "[always] madvise never", "always"},
		{"never", "always madvise [never]", "never"},
		{"garbage", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := thpMode(tt.in); got != tt.want {
				t.Fatalf("thpMode(%q) = %q", tt.in, got)
			}
		})
	}
}

const mountTable = `22 27 0:21 / /proc rw,relatime - proc proc rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 259:1 / /var/lib/etcd rw,noatime - ext4 /dev/nvme0n1p1 rw,nobarrier,data=writeback
41 27 259:2 / /mnt/pm\040em rw - xfs /dev/pmem0 rw,dax=always
42 27 259:3 / /var/lib/etcd rw - xfs /dev/sdb rw,barrier=0
`

func TestMounts(t *testing.T) {
	ms := mountinfo.Parse(strings.NewReader(mountTable))
	tests := []struct {
		name     string
		path     string
		point    string
		fsType   string
		volatile bool
		barrier  string
		dataMode string
		dax      bool
	}{
		{"root", "/var/tmp/q", "/", "ext4", false, "", "", false},
		{"tmpfs", "/dev/shm/x", "/dev/shm", "tmpfs", true, "", "", false},
		{"the later of two mounts on one point", "/var/lib/etcd/member", "/var/lib/etcd", "xfs", false, "barrier=0", "", false},
		{"escaped space, dax", "/mnt/pm em/region", "/mnt/pm em", "xfs", false, "", "", true},
		{"a prefix that is not a parent", "/var/lib/etcd2", "/", "ext4", false, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := mountinfo.Holding(ms, tt.path)
			if !ok || m.Point != tt.point || m.FSType != tt.fsType {
				t.Fatalf("mountinfo.Holding(%s) = %+v, %v", tt.path, m, ok)
			}
			if volatileFS(m.FSType) != tt.volatile || barriersOff(m) != tt.barrier || m.HasOption("dax=always") != tt.dax {
				t.Fatalf("%+v: volatile %v, barriers off %q", m, volatileFS(m.FSType), barriersOff(m))
			}
			if mode, _ := m.OptionValue("data"); mode != tt.dataMode {
				t.Fatalf("data mode %q", mode)
			}
		})
	}
	first := ms[3]
	if barriersOff(first) != "nobarrier" {
		t.Fatalf("nobarrier not seen in %+v", first)
	}
	if mode, _ := first.OptionValue("data"); mode != "writeback" {
		t.Fatalf("data=writeback not seen in %+v", first)
	}
}

func TestPMemChecks(t *testing.T) {
	emulated := adrlog.RegionProbe{Kind: "emulated", Flush: "clwb", Emulated: true, Flushes: 10, P50Ns: 60, P99Ns: 90}
	fsdax := adrlog.RegionProbe{Kind: "fsdax", Flush: "clwb", MapSync: true, Flushes: 10, P50Ns: 300, P99Ns: 900}
	slow := fsdax
	slow.P99Ns = 20000
	none := pmemFacts{Flushes: []string{"clwb", "clflushopt", "clflush"}}
	withFSDax := pmemFacts{Devices: []string{"/dev/pmem0"}, Domains: map[string]string{"region0": "memory_controller"},
		DAXMounts: []string{"/mnt/pmem"}, Flushes: []string{"clwb", "clflush"}}
	withDevDax := pmemFacts{Devices: []string{"/dev/dax0.0"}, Domains: map[string]string{"region0": "cpu_cache"}, Flushes: []string{}}
	required := EtcdProfile()
	required.RequirePMem = true
	tests := []struct {
		name  string
		p     Profile
		facts pmemFacts
		probe adrlog.RegionProbe
		err   error
		want  map[string]Verdict
	}{
		{"none, not required: skips that say why", EtcdProfile(), none, emulated, nil, map[string]Verdict{
			"pmem.present": Skip, "pmem.map_sync": Skip, "pmem.flush_instructions": Pass,
			"pmem.persistence_domain": Skip, "pmem.flush_fence_p99": Skip, "pmem.adr_durable": Skip}},
		{"none, required: failures", required, none, emulated, nil, map[string]Verdict{
			"pmem.present": Fail, "pmem.map_sync": Fail, "pmem.flush_instructions": Pass,
			"pmem.persistence_domain": Fail, "pmem.flush_fence_p99": Fail, "pmem.adr_durable": Fail}},
		{"fs-DAX on the directory", required, withFSDax, fsdax, nil, map[string]Verdict{
			"pmem.present": Pass, "pmem.map_sync": Pass, "pmem.flush_instructions": Pass,
			"pmem.persistence_domain": Pass, "pmem.flush_fence_p99": Pass, "pmem.adr_durable": Pass}},
		{"fs-DAX, slow flushes", required, withFSDax, slow, nil, map[string]Verdict{
			"pmem.flush_fence_p99": Warn, "pmem.adr_durable": Pass}},
		{"devdax under eADR needs neither MAP_SYNC nor flushes", required, withDevDax, emulated, nil, map[string]Verdict{
			"pmem.present": Pass, "pmem.map_sync": Skip, "pmem.flush_instructions": Skip,
			"pmem.persistence_domain": Pass, "pmem.adr_durable": Pass}},
		{"ADR without a flush instruction", required, pmemFacts{Devices: []string{"/dev/dax0.0"}, Domains: map[string]string{"region0": "memory_controller"}, Flushes: []string{}}, emulated, nil,
			map[string]Verdict{"pmem.flush_instructions": Fail, "pmem.adr_durable": Fail}},
		{"a domain the kernel does not name", required, pmemFacts{Devices: []string{"/dev/pmem0"}, Domains: map[string]string{"region0": "none"}, Flushes: []string{"clwb"}}, fsdax, nil,
			map[string]Verdict{"pmem.persistence_domain": Fail, "pmem.adr_durable": Fail}},
		{"the probe failed", EtcdProfile(), none, adrlog.RegionProbe{}, errors.New("mmap: no memory"), map[string]Verdict{
			"pmem.map_sync": Skip, "pmem.flush_fence_p99": Skip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]Check{}
			for _, c := range pmemChecks(tt.p, tt.facts, tt.probe, tt.err) {
				got[c.Name] = c
				if c.Verdict != Pass && c.Reason == "" {
					t.Errorf("%s: %s without a reason", c.Name, c.Verdict)
				}
			}
			if len(got) != 6 {
				t.Fatalf("%d checks, want 6", len(got))
			}
			for name, want := range tt.want {
				if got[name].Verdict != want {
					t.Errorf("%s = %s (%s), want %s", name, got[name].Verdict, got[name].Reason, want)
				}
			}
		})
	}
	// Without persistent memory the verdict says the adr backend cannot
	// run durably, and the emulated latency is labelled.
	for _, c := range pmemChecks(EtcdProfile(), none, emulated, nil) {
		switch c.Name {
		case "pmem.present":
			if c.Text != "not present" {
				t.Errorf("present: %+v", c)
			}
		case "pmem.adr_durable":
			if !strings.Contains(c.Reason, "cannot run durably") {
				t.Errorf("adr_durable: %+v", c)
			}
		case "pmem.flush_fence_p99":
			if !c.Emulated || c.Value != 90 || !strings.Contains(c.Reason, "emulated") {
				t.Errorf("flush_fence_p99: %+v", c)
			}
		}
	}
}

func TestPMemFactsFromSysfs(t *testing.T) {
	sys, dev := t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nd := filepath.Join(sys, "bus", "nd", "devices")
	write(filepath.Join(nd, "region0", "persistence_domain"), "memory_controller\n")
	write(filepath.Join(nd, "namespace0.0", "size"), "4294967296\n")
	write(filepath.Join(nd, "namespace0.0", "mode"), "fsdax\n")
	write(filepath.Join(nd, "namespace0.1", "size"), "0\n") // the idle seed
	write(filepath.Join(dev, "pmem0"), "")
	write(filepath.Join(dev, "sda"), "")
	f := readPMemFacts(t.Context(), sys, dev, mountinfo.Parse(strings.NewReader(mountTable)))
	if len(f.Namespaces) != 1 || f.Namespaces[0] != "namespace0.0 (fsdax)" {
		t.Errorf("namespaces %v", f.Namespaces)
	}
	if len(f.Devices) != 1 || f.Devices[0] != filepath.Join(dev, "pmem0") || f.present() != 1 {
		t.Errorf("devices %v", f.Devices)
	}
	if f.Domains["region0"] != "memory_controller" {
		t.Errorf("domains %v", f.Domains)
	}
	if len(f.DAXMounts) != 1 || f.DAXMounts[0] != "/mnt/pm em" {
		t.Errorf("dax mounts %v", f.DAXMounts)
	}
}

// TestProbeRegion maps a region in a temporary directory: the kernel
// refuses MAP_SYNC there unless it is fs-DAX, and the flush+fence latency
// is measured either way. The file is removed.
func TestProbeRegion(t *testing.T) {
	dir := t.TempDir()
	p, err := adrlog.ProbeRegion(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if p.Flushes != 1000 || !(p.P50Ns > 0) || p.P99Ns < p.P50Ns {
		t.Fatalf("probe %+v", p)
	}
	if !p.MapSync && (!p.Emulated || !strings.Contains(p.Warning, "MAP_SYNC")) {
		t.Fatalf("a region that is not fs-DAX must be emulated and say MAP_SYNC was refused: %+v", p)
	}
	assertEmpty(t, dir)
}

func TestTierCriteria(t *testing.T) {
	crit := EtcdProfile().E2E
	good := TierResult{Tier: Tier{Name: "s", Rate: 150, Clients: 50}, Throughput: 149, P99Ms: 8, StdDevMs: 3, SlowestMs: 40}
	tests := []struct {
		name   string
		mod    func(*TierResult)
		passed bool
		missed string
	}{
		{"meets everything", func(*TierResult) {}, true, ""},
		{"an error", func(r *TierResult) { r.Errors = 1 }, false, "1 errors"},
		{"89% of the rate", func(r *TierResult) { r.Throughput = 133.5 }, false, "89.0% of 150/s"},
		{"exactly 90% of the rate", func(r *TierResult) { r.Throughput = 135 }, true, ""},
		{"slowest over 500 ms", func(r *TierResult) { r.SlowestMs = 501 }, false, "slowest 501 ms"},
		{"stddev over 100 ms", func(r *TierResult) { r.StdDevMs = 120 }, false, "stddev 120 ms"},
		{"p99 over the profile's bound", func(r *TierResult) { r.P99Ms = 150 }, false, "p99 150 ms"},
		{"fell behind", func(r *TierResult) { r.FellBehind = true }, false, "fell behind"},
		{"not measured", func(r *TierResult) { r.Error = "no leader" }, false, "not measured: no leader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mod(&r)
			crit.evaluate(&r)
			if r.Passed != tt.passed {
				t.Fatalf("passed = %v, missed %v", r.Passed, r.Missed)
			}
			if !tt.passed && !strings.Contains(strings.Join(r.Missed, "; "), tt.missed) {
				t.Fatalf("missed %v lacks %q", r.Missed, tt.missed)
			}
		})
	}
}

func TestE2ECheck(t *testing.T) {
	pass := func(name string) TierResult { return TierResult{Tier: Tier{Name: name}, Passed: true} }
	fail := func(name string) TierResult {
		return TierResult{Tier: Tier{Name: name}, Missed: []string{"slowest 900 ms (want <= 500 ms)"}}
	}
	mTier := EtcdProfile()
	mTier.Thresholds["e2e.highest_tier"] = Threshold{Fail: num(2), Source: "test: medium clusters"}
	tests := []struct {
		name   string
		p      Profile
		tiers  []TierResult
		want   Verdict
		value  float64
		reason string
	}{
		{"all pass", EtcdProfile(), []TierResult{pass("s"), pass("m"), pass("l"), pass("xl")}, Pass, 4, ""},
		{"s only", EtcdProfile(), []TierResult{pass("s"), fail("m"), fail("l"), fail("xl")}, Pass, 1, ""},
		{"none", EtcdProfile(), []TierResult{fail("s"), fail("m"), fail("l"), fail("xl")}, Fail, 0, "highest tier passed is none; profile etcd requires s"},
		{"xl passes where l fails", EtcdProfile(), []TierResult{pass("s"), pass("m"), fail("l"), pass("xl")}, Pass, 4, "tier xl passed although l did not"},
		{"a profile requiring m", mTier, []TierResult{pass("s"), fail("m"), fail("l"), fail("xl")}, Fail, 1, "requires m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e2eCheck(tt.p, tt.tiers, "batched")
			if c.Verdict != tt.want || c.Value != tt.value {
				t.Fatalf("%+v, want %s with value %v", c, tt.want, tt.value)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Fatalf("reason %q lacks %q", c.Reason, tt.reason)
			}
			if !strings.Contains(c.Text, "batched") {
				t.Fatalf("text %q does not name the backend", c.Text)
			}
		})
	}
}

func TestPeerChecks(t *testing.T) {
	p := EtcdProfile()
	good := peerResult{RTT: newLatencyHistogram(), Probes: 100, UpMbit: 9000, DnMbit: 8000}
	for range 100 {
		_ = good.RTT.RecordValue(200_000) // 0.2 ms
	}
	lossy := good
	lossy.Lost, lossy.Probes = 2, 102
	slow := peerResult{RTT: newLatencyHistogram(), Probes: 10, UpMbit: 100, DnMbit: 120}
	for range 10 {
		_ = slow.RTT.RecordValue(150_000_000) // 150 ms
	}
	tests := []struct {
		name string
		res  peerResult
		err  error
		want map[string]Verdict
	}{
		{"fast", good, nil, map[string]Verdict{"net.rtt_p99": Pass, "net.loss": Pass, "net.throughput": Pass}},
		{"lossy", lossy, nil, map[string]Verdict{"net.rtt_p99": Pass, "net.loss": Fail, "net.throughput": Pass}},
		{"far and thin", slow, nil, map[string]Verdict{"net.rtt_p99": Fail, "net.loss": Pass, "net.throughput": Warn}},
		{"dead", peerResult{}, errors.New("dial tcp 127.0.0.1:9: connect: connection refused"),
			map[string]Verdict{"net.rtt_p99": Fail, "net.loss": Skip, "net.throughput": Skip}},
		{"dropped after the pings", peerResult{RTT: good.RTT, Probes: 100}, errors.New("upload: broken pipe"),
			map[string]Verdict{"net.rtt_p99": Pass, "net.loss": Pass, "net.throughput": Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := peerChecks(p, "10.0.0.2:2390", tt.res, tt.err)
			for _, c := range cs {
				if c.Peer != "10.0.0.2:2390" {
					t.Errorf("%s has peer %q", c.Name, c.Peer)
				}
				if c.Verdict != tt.want[c.Name] {
					t.Errorf("%s = %s (%s), want %s", c.Name, c.Verdict, c.Reason, tt.want[c.Name])
				}
			}
		})
	}
	dead := peerChecks(p, "x:1", peerResult{}, errors.New("connection refused"))
	if !strings.Contains(dead[0].Reason, "connection refused") {
		t.Fatalf("a dead peer's reason: %q", dead[0].Reason)
	}
}

func TestParseFio(t *testing.T) {
	out := []byte(`note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be capped at 1
{"fio version": "fio-3.33", "jobs": [{"error": 0, "write": {"iops": 2361.5},
 "sync": {"total_ios": 0, "lat_ns": {"min": 109056, "max": 19791872, "N": 7000,
  "percentile": {"50.000000": 226304, "99.000000": 4014080, "99.900000": 7503872},
  "bins": {"226304": 6900, "4014080": 95, "19791872": 5}}}}]}`)
	r, err := parseFio(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.P99Ms != 4.01408 || r.P50Ms != 0.226304 || r.Syncs != 7000 || r.IOPS != 2361.5 {
		t.Fatalf("%+v", r)
	}
	if r.Hist == nil || r.Hist.TotalCount() != 7000 {
		t.Fatalf("bins not recorded: %+v", r.Hist)
	}
	bad := []struct{ name, out, want string }{
		{"not json", "fio: engine sync not loadable", "not JSON"},
		{"no jobs", `{"jobs": []}`, "no jobs"},
		{"job error", `{"jobs": [{"error": 5}]}`, "error 5"},
		{"no fdatasync latencies", `{"jobs": [{"error": 0, "sync": {"lat_ns": {"N": 0}}}]}`, `percentile["99.000000"]`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseFio([]byte(tt.out)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// assertEmpty fails unless dir holds nothing.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}
