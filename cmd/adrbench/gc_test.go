package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/adrbench/adrbench/harness"
)

func TestTuneGeneratorGC(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	if v, set := os.LookupEnv("GOGC"); set {
		t.Skipf("GOGC=%s is set for this test process, and it wins over the tuning", v)
	}
	before := gcPercent()
	tests := []struct {
		name   string
		target string
		gogc   string // set in the environment when not ""
		tuned  bool
	}{
		{name: "inproc servers share the process", target: harness.TargetInproc},
		{name: "process", target: harness.TargetProcess, tuned: true},
		{name: "etcd", target: harness.TargetEtcd, tuned: true},
		{name: "external", target: harness.TargetExternal, tuned: true},
		{name: "GOGC in the environment wins", target: harness.TargetEtcd, gogc: "150"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.gogc != "" {
				t.Setenv("GOGC", tt.gogc)
			}
			restore := tuneGeneratorGC(tt.target)
			during := gcPercent()
			restore()
			want := before
			if tt.tuned {
				want = generatorGCPercent
			}
			if during != want {
				t.Errorf("GC percent %d during the run, want %d", during, want)
			}
			if after := gcPercent(); after != before {
				t.Errorf("GC percent %d after restore, want %d", after, before)
			}
		})
	}
}
