package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Workload is a validated Config with the state its workers share: the
// zipfian constants and the insert and sequence counters.
type Workload struct {
	cfg       Config
	mix       Mix
	keys      keyChooser
	readOpts  []clientv3.OpOption
	conflicts atomic.Uint64
	casOK     atomic.Uint64
	ledger    watchLedger
}

// New validates cfg and prepares the shared state. A zipfian or latest
// distribution costs O(KeySpace) here, once.
func New(cfg Config) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mix, dist := mixFor(cfg)
	if cfg.Distribution != "" {
		dist = cfg.Distribution
	}
	w := &Workload{cfg: cfg, mix: mix, ledger: newWatchLedger()}
	w.keys = keyChooser{
		dist:     dist,
		space:    cfg.KeySpace,
		hotKeys:  max(1, int(float64(cfg.KeySpace)*cfg.HotKeyFraction)),
		hotOps:   cfg.HotOpFraction,
		inserted: new(atomic.Int64),
		seq:      new(atomic.Int64),
	}
	w.keys.inserted.Store(int64(cfg.KeySpace))
	if dist == Zipfian || dist == Latest {
		w.keys.zipf = newZipf(cfg.KeySpace, cfg.ZipfTheta)
	}
	if cfg.Serializable {
		w.readOpts = []clientv3.OpOption{clientv3.WithSerializable()}
	}
	return w, nil
}

// Config returns the workload's configuration.
func (w *Workload) Config() Config { return w.cfg }

// Distribution returns the key distribution in effect.
func (w *Workload) Distribution() string { return w.keys.dist }

// Stats are counters shared by all workers.
type Stats struct {
	// TxnSucceeded and TxnConflicts count compare-and-swaps whose compare
	// held and failed.
	TxnSucceeded, TxnConflicts uint64
}

// Stats returns the counters so far.
func (w *Workload) Stats() Stats {
	return Stats{TxnSucceeded: w.casOK.Load(), TxnConflicts: w.conflicts.Load()}
}

// Worker generates one client's operations. It is not safe for concurrent
// use: give each goroutine its own.
type Worker struct {
	w    *Workload
	r    *rand.Rand
	cum  []float64 // cumulative weights in Mix field order
	vals string    // 2*ValSize random bytes; values are windows into it
	buf  []byte

	get   getOp
	put   putOp
	scan  scanOp
	rmw   rmwOp
	del   deleteOp
	cas   casOp
	lease leaseOp
	watch watchPutOp
}

// Worker returns worker id's generator; its random stream depends only on
// the Config's seed and id.
func (w *Workload) Worker(id int) *Worker {
	r := rand.New(rand.NewPCG(w.cfg.Seed, uint64(id)))
	vb := make([]byte, 2*w.cfg.ValSize)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range vb {
		vb[i] = letters[r.IntN(len(letters))]
	}
	wk := &Worker{w: w, r: r, vals: string(vb), buf: make([]byte, 0, w.cfg.KeySize)}
	var sum float64
	for _, x := range w.mix.weights() {
		sum += x
		wk.cum = append(wk.cum, sum)
	}
	wk.get.opts = w.readOpts
	wk.scan.opts = w.readOpts
	wk.rmw.opts = w.readOpts
	wk.cas = casOp{revs: map[string]int64{}, conflicts: &w.conflicts, succeeded: &w.casOK}
	wk.lease.ttl = int64(w.cfg.LeaseTTL.Seconds())
	if w.cfg.Name == Watch {
		w.registerWatchWriter(wk, id)
	}
	return wk
}

func (wk *Worker) key(i int) string {
	wk.buf = appendKey(wk.buf[:0], i, wk.w.cfg.KeySize)
	return string(wk.buf)
}

func (wk *Worker) val() string {
	n := wk.w.cfg.ValSize
	if n == 0 {
		return ""
	}
	off := wk.r.IntN(n + 1)
	return wk.vals[off : off+n]
}

// Next returns the next operation.
func (wk *Worker) Next() Op {
	switch wk.w.cfg.Name {
	case Lease:
		wk.lease.key, wk.lease.val = wk.key(wk.w.keys.existing(wk.r)), wk.val()
		wk.lease.revoke = wk.r.Float64() < wk.w.cfg.LeaseRevoke
		return &wk.lease
	case Watch:
		return wk.nextWatchPut()
	}
	x := wk.r.Float64() * wk.cum[len(wk.cum)-1]
	kind := 0
	for kind < len(wk.cum)-1 && x >= wk.cum[kind] {
		kind++
	}
	k := &wk.w.keys
	switch kind {
	case 0:
		wk.get.key = wk.key(k.existing(wk.r))
		return &wk.get
	case 1:
		wk.put.kind, wk.put.key, wk.put.val = "update", wk.key(k.existing(wk.r)), wk.val()
		return &wk.put
	case 2:
		wk.put.kind, wk.put.key, wk.put.val = "insert", wk.key(k.insert()), wk.val()
		return &wk.put
	case 3:
		start := k.existing(wk.r)
		n := 1 + wk.r.IntN(wk.w.cfg.MaxScan)
		wk.scan.key, wk.scan.end, wk.scan.limit = wk.key(start), wk.key(start+n), int64(n)
		if wk.scan.end < wk.scan.key { // wrapped past 10^KeySize
			wk.scan.end = "\x00"
		}
		return &wk.scan
	case 4:
		wk.rmw.key, wk.rmw.val = wk.key(k.existing(wk.r)), wk.val()
		return &wk.rmw
	case 5:
		wk.del.key = wk.key(k.existing(wk.r))
		return &wk.del
	default:
		wk.cas.key, wk.cas.val = wk.key(wk.r.IntN(wk.w.cfg.TxnKeys)), wk.val()
		return &wk.cas
	}
}

// Load writes every key of the initial key space once, over the clients
// round-robin with concurrency goroutines, so reads find data. It is the
// YCSB load phase and is not measured.
func (w *Workload) Load(ctx context.Context, clients []*clientv3.Client, concurrency int) error {
	if len(clients) == 0 {
		return fmt.Errorf("%w: load needs at least one client", ErrConfig)
	}
	concurrency = max(1, concurrency)
	var next atomic.Int64
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for g := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := w.Worker(-1 - g) // distinct streams from the measured workers
			c := clients[g%len(clients)]
			for {
				i := int(next.Add(1) - 1)
				if i >= w.cfg.KeySpace {
					return
				}
				if _, err := c.Put(ctx, wk.key(i), wk.val()); err != nil {
					errs <- fmt.Errorf("workloads: load key %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
