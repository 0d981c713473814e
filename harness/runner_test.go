package harness

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// fakeOp is an operation against a fake server: it fails every failEvery-th
// call with Unavailable, and holds server (if set) for service, so the fake
// server serves one operation at a time.
type fakeOp struct {
	calls     *atomic.Int64
	failEvery int64
	server    *sync.Mutex
	service   time.Duration
}

func (o *fakeOp) Kind() string { return "fake" }
func (o *fakeOp) Do(ctx context.Context, _ *clientv3.Client) error {
	n := o.calls.Add(1)
	if o.server != nil {
		o.server.Lock()
		// The fake server's service time: the slowness under test, not a
		// wait for something to happen.
		time.Sleep(o.service)
		o.server.Unlock()
	}
	if o.failEvery > 0 && n%o.failEvery == 0 {
		return status.Error(codes.Unavailable, "fake outage")
	}
	return ctx.Err()
}

type fakeGen struct{ op *fakeOp }

func (g fakeGen) Next() workloads.Op { return g.op }

func gens(op *fakeOp) func(int) Generator {
	return func(int) Generator { return fakeGen{op} }
}

func TestRunClosedTotal(t *testing.T) {
	var calls atomic.Int64
	op := &fakeOp{calls: &calls, failEvery: 10}
	res, err := Run(context.Background(), RunConfig{Mode: results.ModeClosed, Clients: 8, Total: 1000, Tick: 10 * time.Millisecond}, gens(op), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops+res.Errors != 1000 || calls.Load() != 1000 {
		t.Fatalf("ops %d + errors %d, calls %d; want 1000 each", res.Ops, res.Errors, calls.Load())
	}
	if res.Errors != 100 || res.ErrorsByCode["Unavailable"] != 100 {
		t.Errorf("errors %d by code %v, want 100 Unavailable", res.Errors, res.ErrorsByCode)
	}
	if res.Histogram.TotalCount() != res.Ops {
		t.Errorf("histogram holds %d, ops %d", res.Histogram.TotalCount(), res.Ops)
	}
	var seriesOps, seriesErrs int64
	for _, s := range res.Series {
		seriesOps += s.Ops
		seriesErrs += s.Errors
	}
	if seriesOps != res.Ops || seriesErrs != res.Errors {
		t.Errorf("series sums to %d ops %d errors; want %d, %d", seriesOps, seriesErrs, res.Ops, res.Errors)
	}
}

func TestRunDurationAndWarmup(t *testing.T) {
	var calls atomic.Int64
	op := &fakeOp{calls: &calls}
	res, err := Run(context.Background(), RunConfig{
		// Many ticks per run, so a busy machine that starves the
		// aggregator for a while still leaves several intervals.
		Mode: results.ModeClosed, Clients: 2, Duration: 300 * time.Millisecond,
		Warmup: 50 * time.Millisecond, Tick: 20 * time.Millisecond,
	}, gens(op), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Ops >= calls.Load() {
		t.Fatalf("measured %d of %d calls: warm-up calls must be excluded", res.Ops, calls.Load())
	}
	if res.Elapsed < 300*time.Millisecond {
		t.Errorf("elapsed %v, want at least the duration", res.Elapsed)
	}
	if len(res.Series) < 2 {
		t.Errorf("series has %d intervals, want several", len(res.Series))
	}
}

func TestRunCanceled(t *testing.T) {
	var calls atomic.Int64
	op := &fakeOp{calls: &calls}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for calls.Load() < 100 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res, err := Run(ctx, RunConfig{Mode: results.ModeClosed, Clients: 2, Duration: time.Hour}, gens(op), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 {
		t.Error("no operations recorded before cancel")
	}
}

// hangOp hangs every hangEvery-th call until its context is done, and
// returns at once otherwise.
type hangOp struct {
	calls     atomic.Int64
	hangEvery int64
	timeout   time.Duration
	mu        sync.Mutex
	early     []time.Duration // hung calls cancelled before the timeout
	causes    []error
}

func (o *hangOp) Kind() string { return "hang" }
func (o *hangOp) Do(ctx context.Context, _ *clientv3.Client) error {
	if o.calls.Add(1)%o.hangEvery != 0 {
		return ctx.Err() // a stale, already-cancelled context shows here
	}
	start := time.Now()
	<-ctx.Done()
	o.mu.Lock()
	defer o.mu.Unlock()
	if d := time.Since(start); d < o.timeout {
		o.early = append(o.early, d)
	}
	o.causes = append(o.causes, context.Cause(ctx))
	return ctx.Err()
}

func (o *hangOp) Next() workloads.Op { return o }

func TestRunOpTimeout(t *testing.T) {
	const timeout = 40 * time.Millisecond
	op := &hangOp{hangEvery: 5, timeout: timeout}
	res, err := Run(context.Background(), RunConfig{
		Mode: results.ModeClosed, Clients: 3, Total: 60, OpTimeout: timeout, Tick: 10 * time.Millisecond,
	}, func(int) Generator { return op }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops+res.Errors != 60 {
		t.Fatalf("ops %d + errors %d, want 60", res.Ops, res.Errors)
	}
	hung := int64(len(op.causes))
	if hung == 0 || res.Errors != hung || res.ErrorsByCode[codes.DeadlineExceeded.String()] != hung {
		t.Errorf("%d calls hung; errors %d by code %v: want every hung call, and only those, counted as %s",
			hung, res.Errors, res.ErrorsByCode, codes.DeadlineExceeded)
	}
	if len(op.early) > 0 {
		t.Errorf("hung calls cancelled before the %v timeout, after %v", timeout, op.early)
	}
	for _, c := range op.causes {
		if !errors.Is(c, errOpTimeout) {
			t.Errorf("a hung call was cancelled by %v, not the operation timeout", c)
		}
	}
}

func TestRunOpenLoopRate(t *testing.T) {
	var calls atomic.Int64
	op := &fakeOp{calls: &calls}
	res, err := Run(context.Background(), RunConfig{
		Mode: results.ModeOpen, Clients: 4, Rate: 2000, Total: 200, Tick: 20 * time.Millisecond,
	}, gens(op), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 200 {
		t.Fatalf("ops %d, want 200", res.Ops)
	}
	// 200 operations due at 2000/s cannot finish before the last is due.
	if res.Elapsed < 99*time.Millisecond {
		t.Errorf("elapsed %v: the rate was not held", res.Elapsed)
	}
	for _, s := range res.Series {
		if s.Rate != 2000 {
			t.Errorf("series rate %v, want 2000", s.Rate)
		}
	}
}

// latencyGrowth is how much the p50 latency grew over a run: the median of
// the per-interval p50s in the last quarter of the intervals that completed
// operations over the same median in the first quarter. Medians of
// quarters, not single intervals, so one interval in which a busy machine
// stalled a goroutine cannot decide it; a backlog growing linearly gives 7x.
func latencyGrowth(t *testing.T, r *Result) float64 {
	t.Helper()
	var p50s []float64
	for _, s := range r.Series {
		if s.Ops > 0 {
			p50s = append(p50s, s.P50)
		}
	}
	if len(p50s) < 8 {
		t.Fatalf("%s loop: %d busy intervals in %+v; want at least 8 to compare", r.Mode, len(p50s), r.Series)
	}
	quarter := len(p50s) / 4
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	return median(p50s[len(p50s)-quarter:]) / max(median(p50s[:quarter]), 1e-6)
}

// TestCoordinatedOmission pins the reason the runner has an open loop. A fake
// server serves one operation at a time in about 1 ms. Closed-loop clients
// wait for each answer before sending again, so they only ever see their own
// small queue and report a flat latency. An open loop at 20x the capacity,
// with the same clients, keeps scheduling operations whatever the server
// does; measured from the intended send time, the latency grows with the
// backlog over the run, and the last operations wait for most of it. Only
// ratios within each run are compared, so a slow machine slows both sides
// alike.
func TestCoordinatedOmission(t *testing.T) {
	const clients, total = 4, 800
	run := func(cfg RunConfig) *Result {
		t.Helper()
		var calls atomic.Int64
		op := &fakeOp{calls: &calls, server: &sync.Mutex{}, service: time.Millisecond}
		cfg.Clients, cfg.Total, cfg.Tick = clients, total, 20*time.Millisecond
		res, err := Run(context.Background(), cfg, gens(op), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Ops != total {
			t.Fatalf("%s: %d ops, want %d", cfg.Mode, res.Ops, total)
		}
		return res
	}
	closed := run(RunConfig{Mode: results.ModeClosed})
	open := run(RunConfig{Mode: results.ModeOpen, Rate: 20000})
	checkOmission(t, closed, open)
}

// checkOmission asserts what coordinated omission looks like in a pair of
// runs at the same clients: the open loop's latency grows over the run and
// its worst operations waited for most of the run; the closed loop's stays
// flat.
func checkOmission(t *testing.T, closed, open *Result) {
	t.Helper()
	og, cg := latencyGrowth(t, open), latencyGrowth(t, closed)
	t.Logf("p50 growth: open %.1fx, closed %.1fx; open p99 %v in %v", og, cg,
		time.Duration(open.Histogram.ValueAtQuantile(99)), open.Elapsed)
	// A linear backlog gives 7x between the quarters' medians; the
	// bounds leave room for a busy machine's noise.
	if og < 3.5 {
		t.Errorf("open loop: p50 grew %.1fx over the run (series %+v); want the backlog to show", og, open.Series)
	}
	if cg > 3 {
		t.Errorf("closed loop: p50 grew %.1fx over the run (series %+v); want it flat", cg, closed.Series)
	}
	if og < 1.5*cg {
		t.Errorf("open loop p50 grew %.1fx, closed %.1fx: the closed loop should hide the backlog", og, cg)
	}
	// Everything was due within the first part of the run, so the last
	// operation waited for nearly all of it.
	if max99 := time.Duration(open.Histogram.ValueAtQuantile(99)); max99 < open.Elapsed/3 {
		t.Errorf("open-loop p99 %v in a %v run: the queueing was not charged", max99, open.Elapsed)
	}
}

// TestCoordinatedOmissionAgainstStore shows the same against a real member
// made slow by an emulated disk (the hdd profile adds about 8 ms to every
// log sync), through the whole Bench path.
func TestCoordinatedOmissionAgainstStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two clusters")
	}
	run := func(mode string, rate float64) *Result {
		t.Helper()
		cfg := DefaultBenchConfig()
		cfg.Cluster = quickCluster(t, TargetInproc, 1, "batched")
		cfg.Cluster.DiskProfile = "hdd"
		cfg.Run = RunConfig{Mode: mode, Rate: rate, Clients: 4, Total: 240, Tick: 60 * time.Millisecond, OpTimeout: 30 * time.Second}
		cfg.Conns = 2
		r := bench(t, cfg, testBackends())
		p := r.Points[0]
		if p.Ops != 240 || p.Errors != 0 {
			t.Fatalf("%s: ops %d errors %d (%v)", mode, p.Ops, p.Errors, p.ErrorsByCode)
		}
		return &Result{Mode: p.Mode, Ops: p.Ops, Histogram: p.Histogram, Series: p.Series,
			Elapsed: time.Duration(p.DurationS * float64(time.Second))}
	}
	closed := run(results.ModeClosed, 0)
	open := run(results.ModeOpen, 4000)
	checkOmission(t, closed, open)
}

func TestSchedule(t *testing.T) {
	s := schedule{steps: []RateStep{{Rate: 100, Duration: time.Second}, {Rate: 1000, Duration: time.Second}}}
	tests := []struct {
		n    int64
		want time.Duration
		rate float64
	}{
		{0, 0, 100}, {50, 500 * time.Millisecond, 100}, {100, time.Second, 1000},
		{600, 1500 * time.Millisecond, 1000}, {2100, 3 * time.Second, 1000},
	}
	for _, tc := range tests {
		got, rate := s.due(tc.n)
		if got != tc.want || rate != tc.rate {
			t.Errorf("due(%d) = %v at %v, want %v at %v", tc.n, got, rate, tc.want, tc.rate)
		}
	}
	if r := s.rateAt(1500 * time.Millisecond); r != 1000 {
		t.Errorf("rateAt(1.5s) = %v", r)
	}
}

func TestRunConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  RunConfig
		ok   bool
	}{
		{name: "closed", cfg: RunConfig{Mode: results.ModeClosed, Clients: 1, Total: 1}, ok: true},
		{name: "open", cfg: RunConfig{Mode: results.ModeOpen, Clients: 1, Duration: time.Second, Rate: 5}, ok: true},
		{name: "steps", cfg: RunConfig{Mode: results.ModeOpen, Clients: 1, Total: 1, Steps: []RateStep{{5, time.Second}}}, ok: true},
		{name: "no mode", cfg: RunConfig{Clients: 1, Total: 1}},
		{name: "no clients", cfg: RunConfig{Mode: results.ModeClosed, Total: 1}},
		{name: "no end", cfg: RunConfig{Mode: results.ModeClosed, Clients: 1}},
		{name: "closed with rate", cfg: RunConfig{Mode: results.ModeClosed, Clients: 1, Total: 1, Rate: 5}},
		{name: "open without rate", cfg: RunConfig{Mode: results.ModeOpen, Clients: 1, Total: 1}},
		{name: "bad step", cfg: RunConfig{Mode: results.ModeOpen, Clients: 1, Total: 1, Steps: []RateStep{{5, 0}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "OK"},
		{status.Error(codes.Unavailable, "x"), "Unavailable"},
		{context.DeadlineExceeded, "DeadlineExceeded"},
		{errors.New("plain"), "Unknown"},
	}
	for _, tc := range tests {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
