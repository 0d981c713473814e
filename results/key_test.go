package results

import (
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func keyTestPoint() Point {
	return Point{
		Target: TargetInproc, Backend: BackendBatched, Nodes: 3, NetDelayMs: 1, DiskProfile: "native",
		Emulated: []string{}, Workload: "put", Mode: ModeClosed, Clients: 10, Conns: 2, KeySize: 8, ValSize: 256,
		DurationS: 1, Ops: 100, Throughput: 100, LatencyMs: Latency{P50: 1, P90: 2, P99: 3, P999: 4, Max: 5},
	}
}

// TestPointKey pins what sets two points apart: every field of the
// configuration they measured, and nothing that they measured.
func TestPointKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(p *Point)
		same bool
	}{
		{name: "target", edit: func(p *Point) { p.Target = TargetProcess }},
		{name: "backend", edit: func(p *Point) { p.Backend = BackendFsync }},
		{name: "nodes", edit: func(p *Point) { p.Nodes = 5 }},
		{name: "net delay", edit: func(p *Point) { p.NetDelayMs = 1.5 }},
		{name: "disk profile", edit: func(p *Point) { p.DiskProfile = "ssd-2015" }},
		{name: "workload", edit: func(p *Point) { p.Workload = "range" }},
		{name: "mode and rate", edit: func(p *Point) { p.Mode, p.RateOpsS = ModeOpen, 500 }},
		{name: "rate", edit: func(p *Point) { p.Mode, p.RateOpsS = ModeOpen, 0 }},
		{name: "clients", edit: func(p *Point) { p.Clients = 100 }},
		{name: "conns", edit: func(p *Point) { p.Conns = 1 }},
		{name: "key size", edit: func(p *Point) { p.KeySize = 16 }},
		{name: "value size", edit: func(p *Point) { p.ValSize = 1024 }},

		{name: "measurements", same: true, edit: func(p *Point) {
			p.DurationS, p.Ops, p.Errors, p.Throughput = 9, 900, 3, 100
			p.LatencyMs = Latency{P50: 9, P90: 9, P99: 9, P999: 9, Max: 9}
			p.ErrorsByCode = map[string]int64{"Unavailable": 3}
			p.Series = []Second{{T: 1, Ops: 900}}
			p.Histogram = hdrhistogram.New(1, int64(time.Minute), 3)
		}},
		{name: "log and cpu figures", same: true, edit: func(p *Point) {
			p.SyncsPerOp, p.LogSyncs, p.LogEntriesSaved, p.LogBytesWritten = 1, 100, 100, 25600
			p.LogSyncLatencyMs = &Latency{P50: 1}
			p.GeneratorCPUS, p.ServerCPUS, p.CPUShared = 1, 2, true
			p.FlushInstruction = "clwb"
		}},
		{name: "labels derived from the configuration", same: true, edit: func(p *Point) {
			p.Emulated = []string{"adr-region"}
			p.Unsafe = "async is not durable"
		}},
		{name: "what the sweep does not vary", same: true, edit: func(p *Point) {
			p.KeySpace, p.WarmupS, p.Watchers = 1000, 2, 4
		}},
		{name: "files the writer names", same: true, edit: func(p *Point) { p.HgrmFile, p.HistogramB64 = "point-001.hgrm", "AAAA" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := keyTestPoint(), keyTestPoint()
			tt.edit(&b)
			ka, kb := a.Key(), b.Key()
			if (ka == kb) != tt.same {
				t.Fatalf("keys equal: %v, want %v\n a: %v\n b: %v", ka == kb, tt.same, ka, kb)
			}
			if (ka.String() == kb.String()) != tt.same {
				t.Fatalf("spellings equal: %v, want %v\n a: %s\n b: %s", ka.String() == kb.String(), tt.same, ka, kb)
			}
		})
	}
}

func TestPointKeyString(t *testing.T) {
	p := keyTestPoint()
	p.Mode, p.RateOpsS, p.NetDelayMs = ModeOpen, 2500, 0.25
	want := "inproc|batched|n=3|delay_ms=0.25|disk=native|put|open|c=10/2|rate=2500|k=8|v=256"
	if got := p.Key().String(); got != want {
		t.Fatalf("key %s, want %s", got, want)
	}
}
