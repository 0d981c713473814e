package adrlog

import (
	"testing"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/conformance"
)

// testRegionSize is small, so the suite's loads wrap the ring and fill it.
const testRegionSize = 64 << 10

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.CrashSafe, Segments: true,
		RegionSize: testRegionSize, RingFullWaits: CounterRingFullWaits,
		Open: func(env logbackends.Env, p conformance.Params) (logbackends.Backend, error) {
			return Open(env, Config{SegmentSize: p.SegmentSize, OpenRegion: func() (adr.Region, error) { return p.Region, nil }})
		}})
}
