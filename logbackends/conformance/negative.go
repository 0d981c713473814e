package conformance

import (
	"os"
	"strconv"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
)

// SoakEnv names the environment variable that multiplies the crash points
// of the crash-clone and power-loss cases: ADRBENCH_CRASH_SOAK=20 runs them
// twenty times as long. Unset, they stay within a CI budget.
const SoakEnv = "ADRBENCH_CRASH_SOAK"

// soak is the factor SoakEnv asks for, 1 when it is not set.
func soak(t *testing.T) int {
	v := os.Getenv(SoakEnv)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number of at least 1", SoakEnv, v)
	}
	return n
}

// testNegativeControl runs the crash case that holds the backend to its
// promise (power losses for a backend with a region, crash clones after
// each sync for one that syncs on its own schedule, crash clones for the
// others) on a disk whose every fdatasync returns before what it covers is
// durable (vfs.Mem.MisorderSyncs): the sync is misordered with the
// acknowledgement that depends on it, as in a backend that acknowledges,
// or releases ring space, before it syncs. The case must notice that
// acknowledged writes are lost; if it does not, it cannot tell a backend
// that keeps its promise from one that does not.
func testNegativeControl(t *testing.T, h *harness) {
	h.fs.MisorderSyncs(true)
	var c campaign
	switch {
	case h.f.RegionSize > 0:
		c = powerLossCampaign(t, h, 41, powerLossPoints)
	case h.f.Durability == SyncedWindow:
		c = windowCampaign(t, h, 43, 40)
	default:
		c = crashCampaign(t, h, 47, 40)
	}
	if c.failures == 0 {
		t.Fatalf("with misordered syncs all %d crash points over %d operations held what they had to: the crash case cannot tell", c.points, c.ops)
	}
	t.Logf("with misordered syncs, %d of %d crash points failed; first: %s", c.failures, c.points, c.first)
}

// testConcurrentNegativeControl is testNegativeControl for concurrent
// Saves (logbackends.ConcurrentSaver).
func testConcurrentNegativeControl(t *testing.T, h *harness) {
	b := h.open()
	if _, ok := b.(logbackends.ConcurrentSaver); !ok {
		must(t, b.Close())
		t.Skipf("%s does not take concurrent Saves", h.f.Name)
	}
	h.fs.MisorderSyncs(true)
	c := concurrentCampaign(t, h, b, 23, 30)
	if c.failures == 0 {
		t.Fatalf("with misordered syncs all %d crash points held what they had to: the concurrent case cannot tell", c.points)
	}
	t.Logf("with misordered syncs, %d of %d crash points failed; first: %s", c.failures, c.points, c.first)
}
