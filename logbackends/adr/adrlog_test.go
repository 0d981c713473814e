package adrlog

import (
	"testing"

	"github.com/adrbench/adrbench/logbackends/conformance"
)

// testRegionSize is small, so the suite's loads wrap the ring and fill it.
const testRegionSize = 64 << 10

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.CrashSafe, Segments: true,
		Open: Open, RegionSize: testRegionSize})
}
