package model

import (
	"errors"
	"math"
	"testing"
)

// queueConfig is one member whose only cost is taking a request, on one
// core: a single-server queue with the requests' arrival process.
func queueConfig(service, rho float64, exp bool) Config {
	return Config{
		Nodes:       1,
		SharedCores: 1,
		Costs:       Costs{ReqIn: service},
		ExpCosts:    exp,
		Disk:        Fixed(0),
		Load:        Load{Rate: rho / service, Poisson: true, Clients: 100000, Conns: 1},
		Warmup:      5000,
		Measure:     200000,
		Seed:        7,
	}
}

// TestSingleQueueMatchesTextbook checks the CPU pool as a queue: Poisson
// arrivals at one core with exponential (M/M/1) or constant (M/D/1)
// service times give the textbook mean time in system within 5%.
func TestSingleQueueMatchesTextbook(t *testing.T) {
	const s = 100e-6
	tests := []struct {
		name string
		rho  float64
		exp  bool
		want float64
	}{
		// M/M/1: W = 1/(mu - lambda) = S/(1-rho).
		{"M/M/1 rho=0.5", 0.5, true, s / (1 - 0.5)},
		{"M/M/1 rho=0.8", 0.8, true, s / (1 - 0.8)},
		// M/D/1 (Pollaczek-Khinchine): W = S + rho*S/(2(1-rho)).
		{"M/D/1 rho=0.5", 0.5, false, s + 0.5*s/(2*(1-0.5))},
		{"M/D/1 rho=0.8", 0.8, false, s + 0.8*s/(2*(1-0.8))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Simulate(queueConfig(s, tt.rho, tt.exp))
			if err != nil {
				t.Fatal(err)
			}
			if rel := math.Abs(r.Latency.Mean-tt.want) / tt.want; rel > 0.05 {
				t.Fatalf("mean latency %.1f us, textbook %.1f us (%.1f%% off)", r.Latency.Mean*1e6, tt.want*1e6, rel*100)
			}
			if math.Abs(r.Util.SharedCPU-tt.rho) > 0.03 {
				t.Fatalf("utilisation %.3f, want %.2f", r.Util.SharedCPU, tt.rho)
			}
		})
	}
}

// expOrderStat is E[X_(j:m)], the j-th smallest of m independent
// exponential draws with the given mean: sum of mean/(m-i) for i < j.
func expOrderStat(j, m int, mean float64) float64 {
	var e float64
	for i := range j {
		e += mean / float64(m-i)
	}
	return e
}

// TestQuorumWaitsForKthOfN checks the commit rule. With the leader's own
// Save instantaneous and every follower's Save an independent exponential
// draw, a write on an idle cluster commits when the k-th fastest of the n
// members (k = n/2+1) has saved it: the leader, at once, and then the
// (k-1)-th fastest of the n-1 followers. Its mean latency is therefore the
// (k-1)-th order statistic of n-1 exponentials.
//
// The test was checked against two deliberate mutations of quorumCommit
// during development: returning the slowest member's index (waiting for
// all n) made the mean 3.0x (n=3) to 4.0x (n=7) the expected value, and
// returning the fastest (waiting for one: the leader itself) made it 0;
// both failed every case below.
func TestQuorumWaitsForKthOfN(t *testing.T) {
	const mean = 1e-3
	for _, n := range []int{3, 5, 7} {
		t.Run("nodes="+itoa(n), func(t *testing.T) {
			k := n/2 + 1
			cfg := Config{
				Nodes:       n,
				SharedCores: 1,
				Disk:        Exponential(mean, 4000),
				LeaderDisk:  &Disk{Quantiles: []float64{0, 0}},
				// One write every 60 mean Saves: the cluster is idle
				// when each arrives.
				Load:    Load{Rate: 1 / (60 * mean), Clients: 1, Conns: 1, ToLeader: true},
				Warmup:  100,
				Measure: 20000,
				Seed:    uint64(n),
			}
			r, err := Simulate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := expOrderStat(k-1, n-1, mean)
			if rel := math.Abs(r.Latency.Mean-want) / want; rel > 0.05 {
				t.Fatalf("n=%d: mean commit latency %.3f ms, the %d-th of %d followers' Saves is %.3f ms (%.1f%% off)",
					n, r.Latency.Mean*1e3, k-1, n-1, want*1e3, rel*100)
			}
		})
	}
}

// TestLeaderSaveInSeries checks that a leader whose own Save is the slow
// one holds the commit back: its raft loop waits in the Save and counts
// itself only after it, as the store's loop does.
func TestLeaderSaveInSeries(t *testing.T) {
	const slow = 2e-3
	cfg := Config{
		Nodes:       3,
		SharedCores: 1,
		Disk:        Fixed(0),
		LeaderDisk:  &Disk{Quantiles: []float64{slow, slow}},
		Load:        Load{Rate: 10, Clients: 1, Conns: 1, ToLeader: true},
		Warmup:      10,
		Measure:     200,
	}
	r, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Latency.P50-slow) > 1e-9 {
		t.Fatalf("p50 %v, want the leader's Save %v", r.Latency.P50, slow)
	}
}

// TestNetworkDelayAddsRoundTrips checks the replication path's delays: a
// write sent to the leader waits one round trip to a follower; one sent to
// a follower also travels to the leader and learns of the commit from it,
// two round trips in all.
func TestNetworkDelayAddsRoundTrips(t *testing.T) {
	const d = 5e-3
	tests := []struct {
		name     string
		toLeader bool
		conns    int
		want     []float64 // the latencies a write may have
	}{
		{"to the leader", true, 1, []float64{2 * d}},
		{"spread over members", false, 3, []float64{2 * d, 4 * d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				Nodes: 3, SharedCores: 1, Delay: d, Disk: Fixed(0),
				Load:   Load{Rate: 10, Clients: 3, Conns: tt.conns, ToLeader: tt.toLeader},
				Warmup: 3, Measure: 90,
			}
			r, err := Simulate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			near := func(v float64) bool {
				for _, w := range tt.want {
					if math.Abs(v-w) < 1e-9 {
						return true
					}
				}
				return false
			}
			if !near(r.Latency.P50) || !near(r.Latency.Max) {
				t.Fatalf("p50 %v max %v, want among %v", r.Latency.P50, r.Latency.Max, tt.want)
			}
		})
	}
}

// TestClosedLoopLittlesLaw checks the closed loop against Little's law:
// clients = throughput × latency.
func TestClosedLoopLittlesLaw(t *testing.T) {
	cfg := Config{
		Nodes: 3, SharedCores: 2, Delay: 1e-3,
		Costs: Costs{GenSend: 10e-6, GenRecv: 10e-6, ReqIn: 20e-6, ReqOut: 10e-6, Ready: 20e-6,
			Entry: 3e-6, Apply: 5e-6, Msg: 4e-6},
		Disk:   Exponential(1e-3, 100),
		Load:   Load{Closed: true, Clients: 64, Conns: 8},
		Warmup: 2000, Measure: 20000, Seed: 3,
	}
	r, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Throughput * r.Latency.Mean; math.Abs(got-64)/64 > 0.05 {
		t.Fatalf("throughput %.0f × mean latency %.4f = %.1f clients, want 64", r.Throughput, r.Latency.Mean, got)
	}
}

// TestGCStopsTheCoreWhileItMarks checks the collector on one saturated
// core whose only task is the generator's send (cost c, every write): a
// server with vacations. A cycle starts every N = LiveBase/AllocWrite
// writes (Percent 100, a live heap that does not grow) and marks for
// D = MarkPerByte*LiveBase/(Share*cores), during which no task starts; it
// starts as a write is sent, when the core has just finished the previous
// one, so a cycle completes N writes in exactly N*c + D: throughput
// N/(N*c + D), the share of the time spent marking D/(N*c + D). Without the
// collector the same core completes 1/c.
func TestGCStopsTheCoreWhileItMarks(t *testing.T) {
	const c = 100e-6
	tests := []struct {
		name        string
		live, alloc float64
		share, mark float64 // mark: seconds of one mark phase
	}{
		{"50 ms every 1000 writes", 1e6, 1e3, 0.5, 0.05},
		{"20 ms every 4000 writes", 4e6, 1e3, 0.75, 0.02},
		{"200 ms every 2000 writes", 1e6, 500, 0.1, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				Nodes: 1, SharedCores: 1,
				Costs:  Costs{GenSend: c},
				Disk:   Fixed(0),
				Load:   Load{Closed: true, Clients: 50, Conns: 1},
				Warmup: 5000, Measure: 200000, Seed: 5,
				GC: GC{Percent: 100, LiveBase: tt.live, AllocWrite: tt.alloc, Share: tt.share,
					MarkPerByte: tt.mark * tt.share / tt.live},
			}
			r, err := Simulate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := tt.live / tt.alloc
			cycle := n*c + tt.mark
			if want := n / cycle; math.Abs(r.Throughput-want)/want > 0.01 {
				t.Fatalf("throughput %.0f/s, want %.0f/s (without the collector %.0f/s)", r.Throughput, want, 1/c)
			}
			if want := tt.mark / cycle; math.Abs(r.GCMarking-want) > 0.01 {
				t.Fatalf("marking %.3f of the time, want %.3f", r.GCMarking, want)
			}
			if want := r.Window / cycle; math.Abs(float64(r.GCCycles)-want) > 1 {
				t.Fatalf("%d cycles in %.2f s, want %.1f", r.GCCycles, r.Window, want)
			}
			cfg.GC = GC{}
			if r, err = Simulate(cfg); err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Throughput*c-1) > 0.01 || r.GCCycles != 0 {
				t.Fatalf("without the collector: throughput %.0f/s, %d cycles; want %.0f/s, none", r.Throughput, r.GCCycles, 1/c)
			}
		})
	}
}

// TestGCHeapGrowsWithTheLog checks that the live heap, and with it the
// time between cycles and each mark's length, grows with the entries the
// members append: a 3-member cluster keeping 1 kB per entry marks longer
// and less often than one keeping nothing, at the same allocation.
func TestGCHeapGrowsWithTheLog(t *testing.T) {
	run := func(perEntry float64) Result {
		cfg := Config{
			Nodes: 3, SharedCores: 2,
			Costs:  Costs{GenSend: 20e-6, ReqIn: 20e-6, Ready: 10e-6, Entry: 2e-6, Apply: 5e-6},
			Disk:   Fixed(50e-6),
			Load:   Load{Rate: 5000, Clients: 200, Conns: 10},
			Warmup: 5000, Measure: 40000, Seed: 9,
			GC: GC{Percent: 100, LiveBase: 4e6, LivePerEntry: perEntry, AllocWrite: 20e3, Share: 0.5,
				MarkPerByte: 1e-9},
		}
		r, err := Simulate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	flat, growing := run(0), run(1000)
	if growing.GCCycles >= flat.GCCycles {
		t.Fatalf("%d cycles with a growing heap, %d with a flat one: want fewer", growing.GCCycles, flat.GCCycles)
	}
	if growing.GCMarking/float64(growing.GCCycles) <= flat.GCMarking/float64(flat.GCCycles) {
		t.Fatalf("mark phases %.4f of the window each with a growing heap, %.4f with a flat one: want longer",
			growing.GCMarking/float64(growing.GCCycles), flat.GCMarking/float64(flat.GCCycles))
	}
}

func TestValidateNamesTheField(t *testing.T) {
	good := queueConfig(1e-6, 0.5, false)
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no nodes", func(c *Config) { c.Nodes = 0 }},
		{"no cores", func(c *Config) { c.SharedCores = 0 }},
		{"both core kinds", func(c *Config) { c.CoresPerMember = 2 }},
		{"negative delay", func(c *Config) { c.Delay = -1 }},
		{"no rate", func(c *Config) { c.Load.Rate = 0 }},
		{"conns above clients", func(c *Config) { c.Load.Conns = c.Load.Clients + 1 }},
		{"decreasing disk", func(c *Config) { c.Disk = Disk{Quantiles: []float64{2, 1}} }},
		{"negative cost", func(c *Config) { c.Costs.Apply = -1 }},
		{"nothing measured", func(c *Config) { c.Measure = 0 }},
		{"gc share of 1", func(c *Config) { c.GC = GC{Percent: 100, LiveBase: 1, Share: 1} }},
		{"gc without a live heap", func(c *Config) { c.GC = GC{Percent: 100, Share: 0.5} }},
		{"gc negative allocation", func(c *Config) { c.GC = GC{Percent: 100, LiveBase: 1, Share: 0.5, AllocWrite: -1} }},
		{"gc on dedicated cores", func(c *Config) {
			c.SharedCores, c.CoresPerMember = 0, 1
			c.GC = GC{Percent: 100, LiveBase: 1, Share: 0.5}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if _, err := Simulate(c); !errors.Is(err, ErrConfig) {
				t.Fatalf("Simulate = %v, want ErrConfig", err)
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
