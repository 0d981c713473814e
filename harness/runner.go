package harness

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// RateStep is one step of an open-loop schedule.
type RateStep struct {
	Rate     float64       `yaml:"rate" json:"rate"` // operations per second, all clients together
	Duration time.Duration `yaml:"duration" json:"duration"`
}

// RunConfig configures the load runner.
type RunConfig struct {
	// Mode is results.ModeClosed (each client sends its next operation
	// when the previous one returns) or results.ModeOpen (operations are
	// due at a fixed rate whatever the responses do).
	Mode    string `yaml:"mode" json:"mode"`
	Clients int    `yaml:"clients" json:"clients"`
	// The run ends after Total measured operations or after Duration of
	// measurement, whichever is set (both: whichever comes first).
	Total    int64         `yaml:"total" json:"total"`
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Warmup is excluded from every measurement.
	Warmup time.Duration `yaml:"warmup" json:"warmup"`
	// Rate is the open-loop rate; Steps, when given, replaces it with a
	// schedule (after the last step the last rate holds).
	Rate  float64    `yaml:"rate" json:"rate"`
	Steps []RateStep `yaml:"steps" json:"steps"`
	// OpTimeout bounds each operation; 0 means only ctx bounds it.
	OpTimeout time.Duration `yaml:"op_timeout" json:"op_timeout"`
	// Tick is how often worker histograms are merged; 0 means 1s.
	Tick time.Duration `yaml:"tick" json:"tick"`
	// Progress, when not nil, receives a one-line progress report on
	// every tick (meant for a terminal: the line is rewritten with \r).
	Progress io.Writer `yaml:"-" json:"-"`
}

// Validate names the first bad field of c.
func (c RunConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.Mode != results.ModeClosed && c.Mode != results.ModeOpen:
		return bad("mode %q (want %q or %q)", c.Mode, results.ModeClosed, results.ModeOpen)
	case c.Clients < 1:
		return bad("clients %d < 1", c.Clients)
	case c.Total < 0 || c.Duration < 0 || c.Warmup < 0 || c.OpTimeout < 0 || c.Tick < 0:
		return bad("negative total, duration, warmup, op timeout or tick")
	case c.Total == 0 && c.Duration == 0:
		return bad("neither total nor duration is set")
	case c.Mode == results.ModeClosed && (c.Rate != 0 || len(c.Steps) > 0):
		return bad("a rate needs open-loop mode")
	case c.Mode == results.ModeOpen && len(c.Steps) == 0 && !(c.Rate > 0 && !math.IsInf(c.Rate, 0)):
		return bad("open loop needs a rate > 0, got %v", c.Rate)
	}
	for i, s := range c.Steps {
		if !(s.Rate > 0) || math.IsInf(s.Rate, 0) || s.Duration <= 0 {
			return bad("steps[%d]: rate %v, duration %v", i, s.Rate, s.Duration)
		}
	}
	return nil
}

// Generator hands a worker its operations; *workloads.Worker is one.
type Generator interface {
	Next() workloads.Op
}

// Result is what a run measured, warm-up excluded.
type Result struct {
	Mode         string
	Ops          int64 // operations that succeeded
	Errors       int64 // operations that failed
	ErrorsByCode map[string]int64
	Elapsed      time.Duration // the measured phase
	// Histogram holds the latency of successful operations in ns: from
	// the intended send time in open loop, from the send in closed loop.
	Histogram *hdrhistogram.Histogram
	Series    []results.Second
	// CPU is the CPU time this process used during the measured phase.
	CPU time.Duration
}

// Throughput is successful operations per second of measured time.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// schedule maps open-loop ticket n to its due offset from the start.
type schedule struct {
	steps []RateStep
}

func (s schedule) due(n int64) (time.Duration, float64) {
	var base time.Duration
	for i, st := range s.steps {
		inStep := int64(st.Rate * st.Duration.Seconds())
		if n < inStep || i == len(s.steps)-1 {
			return base + time.Duration(float64(n)/st.Rate*1e9), st.Rate
		}
		n -= inStep
		base += st.Duration
	}
	return base, 0 // unreachable: Validate ensures a step
}

// shardCount is how many recorder shards serve n recorders: enough that a
// shard's lock, held for one histogram increment, is rarely contended
// (a few per CPU), and no more, because every shard costs a merge and a
// clear of a ~270 KB histogram on every tick: at 64 shards that was a tenth
// of the generator's CPU in a 100-client run.
func shardCount(n int) int {
	return max(1, min(n, 4*runtime.GOMAXPROCS(0), 64))
}

// scheduleFor is cfg's open-loop schedule: its steps, or its one rate held
// for good. A closed loop has no steps.
func scheduleFor(cfg RunConfig) schedule {
	sched := schedule{steps: cfg.Steps}
	if cfg.Mode == results.ModeOpen && len(sched.steps) == 0 {
		sched.steps = []RateStep{{Rate: cfg.Rate, Duration: time.Hour}}
	}
	return sched
}

// rateAt returns the scheduled rate at offset d.
func (s schedule) rateAt(d time.Duration) float64 {
	for i, st := range s.steps {
		if d < st.Duration || i == len(s.steps)-1 {
			return st.Rate
		}
		d -= st.Duration
	}
	return 0
}

// Run drives cfg.Clients workers over the given connections (worker i uses
// conns[i%len(conns)]; with no connections, ops get a nil client, which
// only a fake Op can use) until the total or duration is reached or ctx is
// done. Operation errors are counted, never returned; Run returns an error
// only for a bad config.
func Run(ctx context.Context, cfg RunConfig, gen func(id int) Generator, conns []*clientv3.Client) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tick := cfg.Tick
	if tick == 0 {
		tick = time.Second
	}
	sched := scheduleFor(cfg)
	nshards := shardCount(cfg.Clients)
	shards := make([]*shard, nshards)
	for i := range shards {
		shards[i] = newShard()
	}
	gens := make([]Generator, cfg.Clients)
	for i := range gens {
		gens[i] = gen(i)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = measureFrom.Add(cfg.Duration)
	}
	var tickets, measured atomic.Int64
	// take decides whether an operation starting (or due) at t runs and
	// whether it is measured.
	take := func(t time.Time) (run, measure bool) {
		if !deadline.IsZero() && !t.Before(deadline) {
			return false, false
		}
		if t.Before(measureFrom) {
			return true, false
		}
		if cfg.Total > 0 && measured.Add(1) > cfg.Total {
			return false, false
		}
		return true, true
	}

	var wg sync.WaitGroup
	workers := make([]*worker, cfg.Clients)
	for i := range cfg.Clients {
		var c *clientv3.Client
		if len(conns) > 0 {
			c = conns[i%len(conns)]
		}
		w := &worker{ctx: ctx, c: c, gen: gens[i], sh: shards[i%nshards], timeout: cfg.OpTimeout}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cfg.Mode == results.ModeOpen {
				w.open(start, sched, &tickets, take)
			} else {
				w.closed(take)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if cfg.OpTimeout > 0 {
		go watchdog(workers, cfg.OpTimeout, done)
	}

	agg := newAggregator(shards, cfg, sched, measureFrom)
	agg.loop(ctx, done, tick)
	return agg.result(time.Since(measureFrom)), nil
}

type worker struct {
	ctx     context.Context
	c       *clientv3.Client
	gen     Generator
	sh      *shard
	timeout time.Duration

	// The operation timeout. A context.WithTimeout per operation costs an
	// allocation, a runtime timer, and a registration in the run context's
	// child set that every worker contends on; at tens of thousands of
	// operations per second that was a tenth of the generator's CPU. So
	// each worker keeps one cancellable context for its operations, while
	// the operation runs started holds its start (monotonic ns since
	// epoch), and the watchdog cancels the context of an operation that
	// has run past the timeout. started is 0 while the worker is between
	// operations and timedOut once the watchdog has claimed the operation.
	opCtx    context.Context
	opCancel context.CancelCauseFunc
	started  atomic.Int64
}

// timedOut marks an operation the watchdog has cancelled.
const timedOut = -1

// errOpTimeout is the cause the watchdog cancels an operation with.
var errOpTimeout = fmt.Errorf("operation timeout: %w", context.DeadlineExceeded)

// epoch is the origin of worker.started: time.Since(epoch) reads the
// monotonic clock and is never 0 or negative once the runner has started.
var epoch = time.Now().Add(-time.Second)

func (w *worker) do(op workloads.Op) error {
	if w.timeout == 0 {
		return op.Do(w.ctx, w.c)
	}
	if w.opCtx == nil {
		w.opCtx, w.opCancel = context.WithCancelCause(w.ctx)
	}
	start := int64(time.Since(epoch))
	// Publishing start also publishes opCancel to the watchdog.
	w.started.Store(start)
	err := op.Do(w.opCtx, w.c)
	if w.started.CompareAndSwap(start, 0) {
		return err
	}
	// The watchdog claimed the operation: wait until it has cancelled the
	// context (after which it no longer reads opCancel), then start the
	// next operation on a fresh one.
	<-w.opCtx.Done()
	w.opCtx, w.opCancel = nil, nil
	w.started.Store(0)
	return errOpTimeout
}

// watchdog cancels operations that have run longer than timeout, checking
// every sixteenth of it: an operation is cancelled between timeout and
// 17/16 of it after it started. It returns when done is closed.
func watchdog(workers []*worker, timeout time.Duration, done <-chan struct{}) {
	tk := time.NewTicker(max(timeout/16, time.Millisecond))
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
		}
		now := int64(time.Since(epoch))
		for _, w := range workers {
			s := w.started.Load()
			if s <= 0 || time.Duration(now-s) < timeout || !w.started.CompareAndSwap(s, timedOut) {
				continue
			}
			w.opCancel(errOpTimeout)
		}
	}
}

func (w *worker) closed(take func(time.Time) (bool, bool)) {
	for w.ctx.Err() == nil {
		t := time.Now()
		run, measure := take(t)
		if !run {
			return
		}
		err := w.do(w.gen.Next())
		if measure && w.ctx.Err() == nil {
			w.sh.record(time.Since(t), err)
		}
	}
}

// open runs operations at their due times. Each takes the next ticket of the
// shared schedule; when every worker is busy, tickets fall behind their due
// times and the delay is charged to the operations, as a real client queue
// would charge it: latency is measured from the due time, not the send.
func (w *worker) open(start time.Time, sched schedule, tickets *atomic.Int64, take func(time.Time) (bool, bool)) {
	for w.ctx.Err() == nil {
		off, _ := sched.due(tickets.Add(1) - 1)
		due := start.Add(off)
		run, measure := take(due)
		if !run {
			return
		}
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.ctx.Done():
				t.Stop()
				return
			}
		}
		err := w.do(w.gen.Next())
		if measure && w.ctx.Err() == nil {
			w.sh.record(time.Since(due), err)
		}
	}
}

// aggregator merges the shards every tick into an interval histogram, a
// per-tick series and the cumulative histogram.
type aggregator struct {
	shards      []*shard
	cfg         RunConfig
	sched       schedule
	measureFrom time.Time
	cum         *hdrhistogram.Histogram
	interval    *hdrhistogram.Histogram
	errs        map[string]int64
	nerrs       int64
	series      []results.Second
	cpuStart    time.Duration
	cpuEnd      time.Duration
}

func newAggregator(shards []*shard, cfg RunConfig, sched schedule, measureFrom time.Time) *aggregator {
	return &aggregator{shards: shards, cfg: cfg, sched: sched, measureFrom: measureFrom,
		cum: newHistogram(), interval: newHistogram(), errs: map[string]int64{}}
}

func (a *aggregator) loop(ctx context.Context, done <-chan struct{}, tick time.Duration) {
	warm := time.NewTimer(time.Until(a.measureFrom))
	defer warm.Stop()
	select {
	case <-warm.C:
	case <-done:
	case <-ctx.Done():
	}
	a.cpuStart = processCPU()
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case now := <-tk.C:
			a.collect(now, false)
		case <-done:
			a.collect(time.Now(), true)
			a.cpuEnd = processCPU()
			a.endProgress()
			return
		case <-ctx.Done():
			<-done // workers stop promptly once ctx is done
			a.collect(time.Now(), true)
			a.cpuEnd = processCPU()
			a.endProgress()
			return
		}
	}
}

func (a *aggregator) collect(now time.Time, final bool) {
	a.interval.Reset()
	var nerrs int64
	for _, s := range a.shards {
		nerrs += s.drainInto(a.interval, a.errs)
	}
	a.nerrs += nerrs
	a.cum.Merge(a.interval)
	elapsed := now.Sub(a.measureFrom)
	if final && a.interval.TotalCount() == 0 && nerrs == 0 && len(a.series) > 0 {
		return // the run ended just after a tick: no empty last interval
	}
	sec := results.Second{
		T:      elapsed.Seconds(),
		Ops:    a.interval.TotalCount(),
		Errors: nerrs,
		P50:    float64(a.interval.ValueAtQuantile(50)) / 1e6,
		P99:    float64(a.interval.ValueAtQuantile(99)) / 1e6,
		Max:    float64(a.interval.Max()) / 1e6,
	}
	if a.cfg.Mode == results.ModeOpen {
		sec.Rate = a.sched.rateAt(now.Sub(a.measureFrom.Add(-a.cfg.Warmup)))
	}
	a.series = append(a.series, sec)
	if a.cfg.Progress != nil {
		a.progress(elapsed)
	}
}

func (a *aggregator) progress(elapsed time.Duration) {
	ops := a.cum.TotalCount()
	line := fmt.Sprintf("%6.1fs %10d ops %10.0f ops/s  p99 %8.2f ms  errors %d",
		elapsed.Seconds(), ops, float64(ops)/max(elapsed.Seconds(), 1e-9),
		float64(a.cum.ValueAtQuantile(99))/1e6, a.nerrs)
	if a.cfg.Total > 0 {
		line += fmt.Sprintf("  %3.0f%%", 100*float64(ops+a.nerrs)/float64(a.cfg.Total))
	}
	// Progress goes to a terminal; a failed write there must not end the run.
	_, _ = fmt.Fprintf(a.cfg.Progress, "\r%s", line)
}

func (a *aggregator) endProgress() {
	if a.cfg.Progress != nil {
		_, _ = fmt.Fprintln(a.cfg.Progress)
	}
}

func (a *aggregator) result(elapsed time.Duration) *Result {
	return &Result{
		Mode:         a.cfg.Mode,
		Ops:          a.cum.TotalCount(),
		Errors:       a.nerrs,
		ErrorsByCode: a.errs,
		Elapsed:      max(elapsed, 0),
		Histogram:    a.cum,
		Series:       a.series,
		CPU:          max(a.cpuEnd-a.cpuStart, 0),
	}
}

// processCPU is the user plus system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
