package qualify

import (
	"strings"
	"testing"
)

// testProfile is the etcd profile with thresholds of every shape.
func testProfile() Profile {
	p := EtcdProfile()
	p.Thresholds["disk.wal_fdatasync_p99"] = Threshold{Fail: num(10), Warn: num(5), Source: "test"}
	return p
}

func TestJudge(t *testing.T) {
	p := testProfile()
	tests := []struct {
		name    string
		check   string
		value   float64
		want    Verdict
		reason  string // a substring of the reason, when not passing
		thresh  float64
		severty Verdict
	}{
		{name: "latency well under the warn limit", check: "disk.wal_fdatasync_p99", value: 1.2, want: Pass, thresh: 10, severty: Fail},
		{name: "latency at the warn limit", check: "disk.wal_fdatasync_p99", value: 5, want: Warn, reason: "5 ms ≥ 5 ms", thresh: 10, severty: Fail},
		{name: "latency at the fail limit", check: "disk.wal_fdatasync_p99", value: 10, want: Fail, reason: "10 ms ≥ 10 ms", thresh: 10, severty: Fail},
		{name: "latency far over", check: "disk.wal_fdatasync_p99", value: 250, want: Fail, thresh: 10, severty: Fail},
		{name: "iops above both limits", check: "disk.wal_iops", value: 2000, want: Pass, thresh: 50, severty: Fail},
		{name: "iops between the limits", check: "disk.wal_iops", value: 120, want: Warn, reason: "120 IOPS < 500 IOPS", thresh: 50, severty: Fail},
		{name: "iops under the fail limit", check: "disk.wal_iops", value: 49, want: Fail, reason: "49 IOPS < 50 IOPS", thresh: 50, severty: Fail},
		{name: "warn-only check over its limit warns", check: "disk.wal8k_fdatasync_p99", value: 30, want: Warn, thresh: 10, severty: Warn},
		{name: "commit p99 under etcd's 25 ms", check: "disk.commit_p99", value: 24.9, want: Pass, thresh: 25, severty: Fail},
		{name: "commit p99 over etcd's 25 ms", check: "disk.commit_p99", value: 31, want: Fail, thresh: 25, severty: Fail},
		{name: "bool that must be yes, is no", check: "disk.barriers", value: 0, want: Fail, reason: "no (want yes)", thresh: 1, severty: Fail},
		{name: "bool that must be yes, is yes", check: "disk.barriers", value: 1, want: Pass, thresh: 1, severty: Fail},
		{name: "bool that should be no, is yes", check: "memory.swap", value: 1, want: Warn, reason: "yes (want no)", thresh: 1, severty: Warn},
		{name: "free space relative to 2 GiB: 3 GiB warns", check: "disk.free_space", value: 3, want: Warn, thresh: 2, severty: Fail},
		{name: "free space relative to 2 GiB: 1 GiB fails", check: "disk.free_space", value: 1, want: Fail, thresh: 2, severty: Fail},
		{name: "free space relative to 2 GiB: 100 GiB passes", check: "disk.free_space", value: 100, want: Pass, thresh: 2, severty: Fail},
		{name: "rtt p99 over etcd's 100 ms", check: "net.rtt_p99", value: 120, want: Fail, thresh: 100, severty: Fail},
		{name: "writes per core between the limits", check: "cpu.writes_per_core", value: 500, want: Warn, thresh: 100, severty: Fail},
		{name: "no tier passed", check: "e2e.highest_tier", value: 0, want: Fail, reason: "none < s", thresh: 1, severty: Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := judge(p, tt.check, tt.value)
			if c.Verdict != tt.want {
				t.Fatalf("judge(%s, %v) = %s (%s), want %s", tt.check, tt.value, c.Verdict, c.Reason, tt.want)
			}
			if tt.want != Pass && !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", c.Reason, tt.reason)
			}
			if c.Threshold != tt.thresh || c.Severity != tt.severty {
				t.Errorf("threshold %v (%s), want %v (%s)", c.Threshold, c.Severity, tt.thresh, tt.severty)
			}
			if c.Source == "" || c.Unit == "" || c.Op == "" {
				t.Errorf("check %+v lacks source, unit or op", c)
			}
		})
	}
}

func TestWorst(t *testing.T) {
	tests := []struct {
		name     string
		verdicts []Verdict
		want     Verdict
	}{
		{"nothing", nil, Pass},
		{"all pass", []Verdict{Pass, Pass}, Pass},
		{"skips do not lower a pass", []Verdict{Pass, Skip, Skip}, Pass},
		{"only skips", []Verdict{Skip}, Pass},
		{"a warning", []Verdict{Pass, Warn, Skip}, Warn},
		{"a failure wins", []Verdict{Warn, Fail, Pass}, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs []Check
			for _, v := range tt.verdicts {
				cs = append(cs, Check{Verdict: v})
			}
			if got := Worst(cs); got != tt.want {
				t.Fatalf("Worst(%v) = %s, want %s", tt.verdicts, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		unit string
		want string
	}{
		{"whole", 10, "ms", "10 ms"},
		{"three digits", 3.6612, "ms", "3.66 ms"},
		{"small", 0.08264, "%", "0.0826 %"},
		{"large", 2153.4, "IOPS", "2153 IOPS"},
		{"hundreds", 176.4, "ms", "176 ms"},
		{"trailing zeros dropped", 1.5, "ms", "1.5 ms"},
		{"tiny", 0.000123, "ms", "0.000123 ms"},
		{"bool yes", 1, "bool", "yes"},
		{"bool no", 0, "bool", "no"},
		{"tier", 2, "tier", "m"},
		{"no tier", 0, "tier", "none"},
		{"count", 3, "count", "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatValue(tt.v, tt.unit); got != tt.want {
				t.Fatalf("formatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
			}
		})
	}
}

// TestEveryCheckIsJudgeable makes every defined check under both built-in
// profiles, so a check without a threshold or a source cannot ship.
func TestEveryCheckIsJudgeable(t *testing.T) {
	for _, p := range []Profile{EtcdProfile(), OpenShiftProfile()} {
		for _, d := range checkDefs() {
			t.Run(p.Name+"/"+d.name, func(t *testing.T) {
				c := judge(p, d.name, 0)
				if c.Source == "" || c.Severity == "" || c.Unit != d.unit {
					t.Fatalf("%+v", c)
				}
			})
		}
	}
}
