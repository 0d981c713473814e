package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/workloads"
)

// Error codes the watch fan-out adds to a point's errors_by_code.
const (
	CodeWatchMissed    = "WatchMissed"    // an acknowledged put a watcher never received
	CodeWatchDuplicate = "WatchDuplicate" // an event a watcher received twice
	CodeWatchCorrupt   = "WatchCorrupt"   // an event no writer of the run could have sent
	CodeWatchEnded     = "WatchEnded"     // a watch the server ended before the fence
)

// watchDrainTimeout bounds the wait for every watcher to see the fence
// after the writers stop. Events still queued then are counted as missed:
// a watch that falls this far behind has failed its reader.
const watchDrainTimeout = 30 * time.Second

// WatchResult is what the watchers of a watch run received.
type WatchResult struct {
	// Histogram holds the delivery latency of every event whose put was
	// sent after warm-up, in ns: from the writer's send time to the
	// watcher's receipt, one sample per watcher and event.
	Histogram *hdrhistogram.Histogram
	Series    []results.Second
	Elapsed   time.Duration // from the end of warm-up to the last watcher's fence
	Missed    int64
	Duplicate int64
	Corrupt   int64
	Ended     int64 // watchers whose watch ended before the fence
}

// ErrorsByCode is the result's errors under the Code… names.
func (r *WatchResult) ErrorsByCode() map[string]int64 {
	m := map[string]int64{}
	for code, n := range map[string]int64{CodeWatchMissed: r.Missed, CodeWatchDuplicate: r.Duplicate,
		CodeWatchCorrupt: r.Corrupt, CodeWatchEnded: r.Ended} {
		if n > 0 {
			m[code] = n
		}
	}
	return m
}

// Errors is the sum of the result's errors.
func (r *WatchResult) Errors() int64 { return r.Missed + r.Duplicate + r.Corrupt + r.Ended }

// WatchFanout is a watch workload's watchers: n watches on the workload's
// key range, spread over the connections, each checking its events against
// the writers' ledger.
type WatchFanout struct {
	wl       *workloads.Workload
	watchers []*watcher
	shards   []*shard
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the watchers' goroutines
	agg      *aggregator
	aggDone  chan struct{}
	drained  chan struct{} // closed when every watcher has stopped
	start    time.Time     // end of warm-up
}

// watcher is one watch. Everything but fenced and the atomics is owned by
// its goroutine until that goroutine ends.
type watcher struct {
	ch          clientv3.WatchChan
	sh          *shard
	measureFrom time.Time
	last        map[int]int64       // per writer: highest sequence number seen, absent when none
	gaps        map[int][][2]uint64 // per writer: sequence ranges [from, to] skipped
	dup         int64
	corrupt     int64
	ended       bool
	fenced      atomic.Bool
	done        chan struct{}
}

// StartWatchFanout opens n watches over conns (watch i on conns[i mod
// len]) on wl's range and returns once the server has created every one, so
// no put sent afterwards can be missed for want of a watch.
func StartWatchFanout(ctx context.Context, wl *workloads.Workload, conns []*clientv3.Client, n int) (*WatchFanout, error) {
	if len(conns) == 0 || n < 1 {
		return nil, fmt.Errorf("%w: watch fan-out needs connections and watchers, got %d and %d", ErrConfig, len(conns), n)
	}
	wctx, cancel := context.WithCancel(ctx)
	f := &WatchFanout{wl: wl, cancel: cancel, drained: make(chan struct{})}
	f.shards = make([]*shard, shardCount(n))
	for i := range f.shards {
		f.shards[i] = newShard()
	}
	key, end := wl.WatchRange()
	for i := range n {
		ch := conns[i%len(conns)].Watch(wctx, key, clientv3.WithRange(end), clientv3.WithCreatedNotify())
		select {
		case resp, ok := <-ch:
			if !ok || !resp.Created || resp.Err() != nil {
				cancel()
				return nil, fmt.Errorf("%w: create watch %d: %v", ErrTarget, i, errors.Join(resp.Err(), ctx.Err()))
			}
		case <-ctx.Done():
			cancel()
			return nil, fmt.Errorf("%w: create watch %d: %w", ErrTarget, i, ctx.Err())
		}
		f.watchers = append(f.watchers, &watcher{ch: ch, sh: f.shards[i%len(f.shards)],
			last: map[int]int64{}, gaps: map[int][][2]uint64{}, done: make(chan struct{})})
	}
	return f, nil
}

// Measure starts receiving: events of puts sent before measureFrom are
// checked but not measured, and the delivery series is merged every tick
// of run's.
func (f *WatchFanout) Measure(ctx context.Context, run RunConfig, measureFrom time.Time) {
	f.start = measureFrom
	for _, w := range f.watchers {
		w.measureFrom = measureFrom
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			w.receive()
		}()
	}
	go func() { f.wg.Wait(); close(f.drained) }()
	tick := run.Tick
	if tick == 0 {
		tick = time.Second
	}
	quiet := run
	quiet.Progress, quiet.Total = nil, 0
	f.agg = newAggregator(f.shards, quiet, scheduleFor(run), measureFrom)
	f.aggDone = make(chan struct{})
	go func() {
		defer close(f.aggDone)
		f.agg.loop(ctx, f.drained, tick)
	}()
}

// receive reads events until the fence or the end of the watch.
func (w *watcher) receive() {
	defer close(w.done)
	for resp := range w.ch {
		if resp.Canceled || resp.Err() != nil {
			w.ended = true
			return
		}
		now := time.Now()
		for _, ev := range resp.Events {
			if ev.Type != mvccpb.PUT {
				continue // the workload only puts; a delete is no writer's
			}
			if string(ev.Kv.Value) == workloads.WatchFence {
				w.fenced.Store(true)
				return
			}
			st, ok := workloads.ParseWatchValue(ev.Kv.Value)
			if !ok {
				w.corrupt++
				continue
			}
			w.check(st)
			if !st.Sent.Before(w.measureFrom) {
				w.sh.record(now.Sub(st.Sent), nil)
			}
		}
	}
	w.ended = true // the channel closed without a fence: the watch was cancelled
}

// check tracks st's writer's sequence: a writer sends one put at a time and
// a watch delivers in revision order, so its numbers arrive increasing.
func (w *watcher) check(st workloads.WatchStamp) {
	last, seen := w.last[st.Writer]
	if !seen {
		last = -1
	}
	seq := int64(st.Seq)
	switch {
	case seq <= last:
		w.dup++
		return
	case seq > last+1:
		w.gaps[st.Writer] = append(w.gaps[st.Writer], [2]uint64{uint64(last + 1), uint64(seq - 1)})
	}
	w.last[st.Writer] = seq
}

// Finish puts the fence once the writers have stopped, waits until every
// watcher has seen it (or the drain timeout passes), closes the watches and
// checks each watcher against the ledger. fence is the connection the
// fence goes through.
func (f *WatchFanout) Finish(ctx context.Context, fence *clientv3.Client) (*WatchResult, error) {
	defer f.cancel()
	// The fence goes out even when ctx is done (a SIGINT ends runs early,
	// and what was measured is still written), bounded by the drain time.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), watchDrainTimeout)
	defer cancel()
	_, fenceErr := fence.Put(fctx, f.wl.WatchFenceKey(), workloads.WatchFence)
	if fenceErr == nil {
		for _, w := range f.watchers {
			select {
			case <-w.done:
			case <-fctx.Done():
			}
		}
	}
	f.cancel()
	<-f.drained
	<-f.aggDone
	if fenceErr != nil {
		return nil, fmt.Errorf("%w: put the watch fence: %w", ErrTarget, fenceErr)
	}

	ledger := f.wl.WatchLedger()
	res := &WatchResult{Histogram: f.agg.cum, Series: f.agg.series, Elapsed: max(time.Since(f.start), 0)}
	for _, w := range f.watchers {
		res.Duplicate += w.dup
		res.Corrupt += w.corrupt
		if w.ended && !w.fenced.Load() {
			res.Ended++
		}
		for writer := range w.last {
			if _, known := ledger.Issued[writer]; !known {
				res.Corrupt++ // a writer this run never had
			}
		}
		res.Missed += missed(w, ledger)
	}
	return res, nil
}

// missed counts the acknowledged puts w never received: the gaps it saw
// and everything after its last event, less the puts that failed (which
// may or may not have been applied).
func missed(w *watcher, l workloads.WatchLedger) int64 {
	var n int64
	for writer, issued := range l.Issued {
		ranges := append([][2]uint64(nil), w.gaps[writer]...)
		last, seen := w.last[writer]
		if !seen {
			last = -1
		}
		if uint64(last+1) < issued {
			ranges = append(ranges, [2]uint64{uint64(last + 1), issued - 1})
		}
		failed := l.Failed[writer]
		for _, r := range ranges {
			n += int64(r[1] - r[0] + 1)
			for seq := range failed {
				if seq >= r[0] && seq <= r[1] {
					n--
				}
			}
		}
	}
	return n
}
