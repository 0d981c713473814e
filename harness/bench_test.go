package harness

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// bench runs Bench and checks what every measured point must be: the point
// cfg plans (same key), in a run that validates.
func bench(t *testing.T, cfg BenchConfig, backends *logbackends.Registry) *results.Run {
	t.Helper()
	p, hdr, err := Bench(ctxT(t), cfg, backends)
	if err != nil {
		t.Fatal(err)
	}
	planned := cfg.Point()
	if got, want := p.Key(), planned.Key(); got != want {
		t.Errorf("measured point's key %v, planned %v", got, want)
	}
	if hdr.Name != cfg.Name || hdr.Started.IsZero() {
		t.Errorf("run header %+v for run %q", hdr, cfg.Name)
	}
	run := &results.Run{Header: hdr, Points: []results.Point{*p}}
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestBenchConfigPoint pins the configuration a point records for each
// target: the key a sweep plans with is the key Bench measures under.
func TestBenchConfigPoint(t *testing.T) {
	base := DefaultBenchConfig()
	tests := []struct {
		name string
		edit func(c *BenchConfig)
		want func(p *results.Point)
	}{
		{name: "default", edit: func(c *BenchConfig) {}, want: func(p *results.Point) {}},
		{name: "inproc with delay, disk and open loop", edit: func(c *BenchConfig) {
			c.Cluster.Nodes, c.Cluster.NetDelay, c.Cluster.DiskProfile = 5, 1500*time.Microsecond, "ssd-2015"
			c.Run.Mode, c.Run.Rate, c.Run.Warmup = results.ModeOpen, 2000, 2*time.Second
		}, want: func(p *results.Point) {
			p.Nodes, p.NetDelayMs, p.DiskProfile = 5, 1.5, "ssd-2015"
			p.Mode, p.RateOpsS, p.WarmupS = results.ModeOpen, 2000, 2
		}},
		{name: "no disk profile is the native disk", edit: func(c *BenchConfig) { c.Cluster.DiskProfile = "" },
			want: func(p *results.Point) {}},
		{name: "process keeps its backend", edit: func(c *BenchConfig) {
			c.Cluster.Target, c.Cluster.LogBackend = TargetProcess, "fsync"
		}, want: func(p *results.Point) { p.Target, p.Backend, p.CPUShared = TargetProcess, "fsync", false }},
		{name: "etcd runs its own WAL", edit: func(c *BenchConfig) {
			c.Cluster.Target, c.Cluster.Nodes = TargetEtcd, 3
		}, want: func(p *results.Point) {
			p.Target, p.Backend, p.Nodes, p.CPUShared = TargetEtcd, results.BackendEtcdWAL, 3, false
		}},
		{name: "external has as many nodes as endpoints", edit: func(c *BenchConfig) {
			c.Cluster.Target, c.Cluster.Endpoints = TargetExternal, []string{"a:2379", "b:2379"}
		}, want: func(p *results.Point) {
			p.Target, p.Backend, p.Nodes, p.CPUShared = TargetExternal, results.BackendExternal, 2, false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := results.Point{
				Target: TargetInproc, Backend: base.Cluster.LogBackend, Nodes: 1, DiskProfile: "native",
				Emulated: []string{}, Workload: base.Workload.Name, Mode: results.ModeClosed,
				Clients: base.Run.Clients, Conns: base.Conns, KeySize: base.Workload.KeySize,
				ValSize: base.Workload.ValSize, KeySpace: base.Workload.KeySpace, CPUShared: true,
			}
			tt.want(&want)
			c := DefaultBenchConfig()
			tt.edit(&c)
			if got := c.Point(); !reflect.DeepEqual(got, want) {
				t.Fatalf("point\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestBenchWatch runs the watch fan-out against one member: every put
// reaches every watcher exactly once, and the point counts deliveries.
func TestBenchWatch(t *testing.T) {
	const puts, watchers = 200, 6
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 1, "memory")
	cfg.Workload.Name, cfg.Workload.Watchers, cfg.Workload.ValSize = workloads.Watch, watchers, 64
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, puts
	run := bench(t, cfg, testBackends())
	p := run.Points[0]
	if p.WatchPuts != puts || p.Ops != puts*watchers || p.Errors != 0 {
		t.Fatalf("puts %d, deliveries %d, errors %d (%v); want %d, %d, 0", p.WatchPuts, p.Ops, p.Errors, p.ErrorsByCode, puts, puts*watchers)
	}
	if p.Watchers != watchers || p.WriteLatencyMs == nil || p.WriteLatencyMs.P50 <= 0 || p.LatencyMs.P50 <= 0 {
		t.Errorf("point %+v", p)
	}
	var seriesOps int64
	for _, s := range p.Series {
		seriesOps += s.Ops
	}
	if seriesOps != p.Ops {
		t.Errorf("delivery series sums to %d, ops %d", seriesOps, p.Ops)
	}
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestBenchLogStats checks that a point carries what the log backends did
// during the measured part of the run, read from /metrics.
func TestBenchLogStats(t *testing.T) {
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 1, "batched")
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, 200
	run := bench(t, cfg, testBackends())
	p := run.Points[0]
	if p.LogSyncs == 0 || p.LogEntriesSaved < 200 || p.LogBytesWritten < 200*uint64(cfg.Workload.ValSize) {
		t.Fatalf("log syncs %d, entries %d, bytes %d for 200 puts", p.LogSyncs, p.LogEntriesSaved, p.LogBytesWritten)
	}
	// One member syncs at most once per entry, and the load before the
	// run is not counted.
	if p.LogSyncs > p.LogEntriesSaved || p.LogEntriesSaved > 400 {
		t.Errorf("log syncs %d for %d entries", p.LogSyncs, p.LogEntriesSaved)
	}
	if want := float64(p.LogSyncs) / 200; p.SyncsPerOp != want {
		t.Errorf("syncs/op %v, want %v", p.SyncsPerOp, want)
	}
	l := p.LogSyncLatencyMs
	if l == nil || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("sync latency %+v", l)
	}
}

func TestBenchLease(t *testing.T) {
	cfg := DefaultBenchConfig()
	cfg.Cluster = quickCluster(t, TargetInproc, 1, "memory")
	cfg.Workload.Name, cfg.Workload.LeaseRevoke = workloads.Lease, 0.5
	cfg.Run.Clients, cfg.Conns, cfg.Run.Total = 4, 2, 100
	run := bench(t, cfg, testBackends())
	if p := run.Points[0]; p.Ops != 100 || p.Errors != 0 {
		t.Fatalf("ops %d errors %d (%v)", p.Ops, p.Errors, p.ErrorsByCode)
	}
}

// statsCluster is a Cluster that reads its stats directly.
type statsCluster struct {
	external
	stats []logbackends.Stats
}

func (c statsCluster) BackendStats() []logbackends.Stats { return c.stats }

func TestLogStatsPrefersDirectRead(t *testing.T) {
	want := []logbackends.Stats{{Backend: "memory", Saves: 3}}
	// The endpoint is unreachable: a scrape would fail.
	cl := statsCluster{external: external{endpoints: []string{"127.0.0.1:1"}}, stats: want}
	got, err := LogStats(context.Background(), cl)
	if err != nil || len(got) != 1 || got[0].Saves != 3 {
		t.Fatalf("LogStats = %+v, %v", got, err)
	}
	if _, err := LogStats(context.Background(), cl.external); err == nil {
		t.Fatal("scraping an unreachable endpoint succeeded")
	}
}

func stamp(writer int, seq uint64) workloads.WatchStamp {
	return workloads.WatchStamp{Writer: writer, Seq: seq, Sent: time.Now()}
}

// TestWatchChecks pins how a watcher's events are checked against the
// writers' ledger.
func TestWatchChecks(t *testing.T) {
	tests := []struct {
		name        string
		seqs        map[int][]uint64 // per writer, in arrival order
		issued      map[int]uint64
		failed      map[int]map[uint64]bool
		missed, dup int64
	}{
		{name: "all", seqs: map[int][]uint64{0: {0, 1, 2}, 1: {0, 1}}, issued: map[int]uint64{0: 3, 1: 2}},
		{name: "gap", seqs: map[int][]uint64{0: {0, 3, 4}}, issued: map[int]uint64{0: 5}, missed: 2},
		{name: "tail", seqs: map[int][]uint64{0: {0, 1}}, issued: map[int]uint64{0: 5}, missed: 3},
		{name: "writer never seen", seqs: map[int][]uint64{}, issued: map[int]uint64{0: 4}, missed: 4},
		{name: "failed puts are not missed", seqs: map[int][]uint64{0: {0, 2}}, issued: map[int]uint64{0: 4},
			failed: map[int]map[uint64]bool{0: {1: true, 3: true}}},
		{name: "failed put that was applied", seqs: map[int][]uint64{0: {0, 1, 2}}, issued: map[int]uint64{0: 3},
			failed: map[int]map[uint64]bool{0: {1: true}}},
		{name: "duplicate", seqs: map[int][]uint64{0: {0, 1, 1, 2, 0}}, issued: map[int]uint64{0: 3}, dup: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &watcher{last: map[int]int64{}, gaps: map[int][][2]uint64{}}
			for writer, seqs := range tc.seqs {
				for _, s := range seqs {
					w.check(stamp(writer, s))
				}
			}
			l := workloads.WatchLedger{Issued: tc.issued, Failed: tc.failed}
			if got := missed(w, l); got != tc.missed || w.dup != tc.dup {
				t.Fatalf("missed %d, duplicates %d; want %d, %d", got, w.dup, tc.missed, tc.dup)
			}
		})
	}
}

func TestWatchResultErrors(t *testing.T) {
	r := &WatchResult{Missed: 2, Duplicate: 1}
	codes := r.ErrorsByCode()
	if r.Errors() != 3 || codes[CodeWatchMissed] != 2 || codes[CodeWatchDuplicate] != 1 || len(codes) != 2 {
		t.Fatalf("errors %d by code %v", r.Errors(), codes)
	}
	var p results.Point
	fillWatch(&p, &Result{Ops: 10, Errors: 1, ErrorsByCode: map[string]int64{"Unavailable": 1}, Histogram: newHistogram()},
		&WatchResult{Histogram: newHistogram(), Missed: 2, Elapsed: time.Second}, 3)
	if p.Errors != 3 || p.ErrorsByCode["Unavailable"] != 1 || p.ErrorsByCode[CodeWatchMissed] != 2 || p.WatchPuts != 10 {
		t.Fatalf("point %+v", p)
	}
}
