package harness

import (
	"context"
	"errors"
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
		Mode: results.ModeClosed, Clients: 2, Duration: 100 * time.Millisecond,
		Warmup: 50 * time.Millisecond, Tick: 20 * time.Millisecond,
	}, gens(op), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Ops >= calls.Load() {
		t.Fatalf("measured %d of %d calls: warm-up calls must be excluded", res.Ops, calls.Load())
	}
	if res.Elapsed < 100*time.Millisecond {
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

// TestCoordinatedOmission pins the reason the runner has an open loop. A fake
// server serves one operation at a time in 1 ms. Closed-loop clients wait for
// each answer before sending again, so they only ever see their own small
// queue and report a flat latency. An open loop at 20x the capacity keeps
// scheduling operations whatever the server does; measured from the intended
// send time, the latency grows with the backlog over the run.
func TestCoordinatedOmission(t *testing.T) {
	const clients, total = 4, 300
	run := func(cfg RunConfig) *Result {
		t.Helper()
		var calls atomic.Int64
		op := &fakeOp{calls: &calls, server: &sync.Mutex{}, service: time.Millisecond}
		cfg.Clients, cfg.Total, cfg.Tick = clients, total, 30*time.Millisecond
		res, err := Run(context.Background(), cfg, gens(op), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Ops != total || len(res.Series) < 2 {
			t.Fatalf("%s: %d ops in %d intervals; want %d in several", cfg.Mode, res.Ops, len(res.Series), total)
		}
		return res
	}
	closed := run(RunConfig{Mode: results.ModeClosed})
	open := run(RunConfig{Mode: results.ModeOpen, Rate: 20000})

	// growth compares the first and last intervals that completed
	// operations (an interval may pass with none when the tick fires
	// while every worker waits on the server).
	growth := func(r *Result) float64 {
		var busy []results.Second
		for _, s := range r.Series {
			if s.Ops > 0 {
				busy = append(busy, s)
			}
		}
		if len(busy) < 2 {
			t.Fatalf("%s: %d busy intervals in %+v", r.Mode, len(busy), r.Series)
		}
		return busy[len(busy)-1].P50 / max(busy[0].P50, 1e-6)
	}
	if g := growth(open); g < 3 {
		t.Errorf("open loop: p50 grew %.1fx over the run (series %+v); want the backlog to show", g, open.Series)
	}
	if growth(closed) >= growth(open) {
		t.Errorf("closed loop p50 grew %.1fx, open %.1fx: the closed loop should hide the backlog", growth(closed), growth(open))
	}
	cp99, op99 := closed.Histogram.ValueAtQuantile(99), open.Histogram.ValueAtQuantile(99)
	if op99 < 5*cp99 {
		t.Errorf("open-loop p99 %v not well above closed-loop p99 %v", time.Duration(op99), time.Duration(cp99))
	}
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
