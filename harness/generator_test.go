package harness

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGeneratorGC(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	if v, set := os.LookupEnv("GOGC"); set {
		t.Skipf("GOGC=%s is set for this test process, and it wins over the tuning", v)
	}
	before := gcPercent()

	restore := tuneGeneratorGC(TargetInproc)
	if got := gcPercent(); got != before {
		t.Errorf("inproc: GC percent %d, want it left at %d (the servers share the process)", got, before)
	}
	restore()

	restore = tuneGeneratorGC(TargetExternal)
	if got := gcPercent(); got != generatorGCPercent {
		t.Errorf("external: GC percent %d, want %d", got, generatorGCPercent)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Errorf("after restore: GC percent %d, want %d", got, before)
	}

	t.Setenv("GOGC", "150")
	restore = tuneGeneratorGC(TargetEtcd)
	if got := gcPercent(); got != before {
		t.Errorf("with GOGC set: GC percent %d, want it left at %d", got, before)
	}
	restore()
}
