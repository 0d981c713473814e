package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// errorPause is how long a client waits after an error before its next
// operation, so that clients of a dead member do not spin.
const errorPause = 20 * time.Millisecond

// keyName is the i-th key of the workload.
func keyName(i int) string { return fmt.Sprintf("lin/k%d", i) }

// worker is one client: a goroutine with its own connection to one member,
// doing gets, puts and compare-and-sets on the shared keys, one at a time,
// and recording each with its call and return times.
type worker struct {
	id      int
	member  int
	cli     *clientv3.Client
	rng     *rand.Rand
	cfg     Config
	start   time.Time
	clients int // the logical client numbers are id, id+clients, ...

	client int
	seq    int
	// known is the last value this worker saw or wrote for each key: what
	// its next cas expects.
	known map[string]string
	ops   []Op
}

func newWorker(id, member int, cli *clientv3.Client, cfg Config, start time.Time) *worker {
	return &worker{
		id: id, member: member, cli: cli, cfg: cfg, start: start,
		rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(id)+1)),
		clients: cfg.Clients,
		client:  id,
		known:   map[string]string{},
	}
}

// run does operations until ctx ends. An operation in flight then is
// given its own timeout, not cut short, so the history ends with answers
// rather than cancellations.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		op := w.next()
		w.do(&op)
		w.ops = append(w.ops, op)
		if op.Status == StatusIndeterminate {
			// The write may still be in flight: what follows is another
			// client's, or the history would have one client doing two
			// things at once.
			w.client += w.clients
		}
		if op.Status != StatusOK {
			sleep(ctx, errorPause)
		}
	}
}

// next draws the next operation: 30% gets, 10% gets in a read-only txn,
// 30% puts, 30% cas.
func (w *worker) next() Op {
	key := keyName(w.rng.IntN(w.cfg.Keys))
	op := Op{Client: w.client, Worker: w.id, Member: w.member, Key: key}
	switch r := w.rng.IntN(10); {
	case r < 3:
		op.Kind = OpGet
	case r < 4:
		op.Kind = OpTxnGet
	case r < 7:
		op.Kind = OpPut
	default:
		op.Kind = OpCAS
		op.Expect = w.known[key]
	}
	if !isRead(op.Kind) {
		w.seq++
		op.Value = fmt.Sprintf("w%d-%d", w.id, w.seq)
	}
	return op
}

func (w *worker) now() int64 { return time.Since(w.start).Nanoseconds() }

// do runs op against the worker's member and records its outcome.
func (w *worker) do(op *Op) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
	defer cancel()
	op.Call = w.now()
	var err error
	switch op.Kind {
	case OpGet:
		var resp *clientv3.GetResponse
		if resp, err = w.cli.Get(ctx, op.Key); err == nil && len(resp.Kvs) > 0 {
			op.Output = string(resp.Kvs[0].Value)
		}
	case OpTxnGet:
		// A compare that always holds, so the read is in the branch
		// taken: a read-only txn, not a plain range.
		var resp *clientv3.TxnResponse
		resp, err = w.cli.Txn(ctx).If(clientv3.Compare(clientv3.Version(op.Key), ">", -1)).Then(clientv3.OpGet(op.Key)).Commit()
		switch {
		case err != nil:
		case !resp.Succeeded || len(resp.Responses) != 1:
			err = fmt.Errorf("txn-get: succeeded %v with %d responses, want the then branch's one", resp.Succeeded, len(resp.Responses))
		default:
			if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
				op.Output = string(kvs[0].Value)
			}
		}
	case OpPut:
		var resp *clientv3.PutResponse
		if resp, err = w.cli.Put(ctx, op.Key, op.Value); err == nil {
			op.Revision = resp.Header.Revision
		}
	case OpCAS:
		cmp := clientv3.Compare(clientv3.Value(op.Key), "=", op.Expect)
		if op.Expect == "" {
			// A value compare fails on a key that does not exist.
			cmp = clientv3.Compare(clientv3.CreateRevision(op.Key), "=", 0)
		}
		var resp *clientv3.TxnResponse
		resp, err = w.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(op.Key, op.Value)).Else(clientv3.OpGet(op.Key)).Commit()
		if err == nil {
			op.Swapped = resp.Succeeded
			if resp.Succeeded {
				op.Revision = resp.Header.Revision
			} else if len(resp.Responses) == 1 {
				if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
					op.Output = string(kvs[0].Value)
				}
			} else {
				err = fmt.Errorf("cas: %d responses in the else branch, want 1", len(resp.Responses))
			}
		}
	}
	op.Return = w.now()
	switch {
	case err == nil:
		op.Status = StatusOK
		w.learn(op)
	case isRead(op.Kind):
		op.Status, op.Error = StatusFailed, err.Error()
	default:
		op.Status, op.Error = StatusIndeterminate, err.Error()
	}
}

// learn remembers the key's value as op left it.
func (w *worker) learn(op *Op) {
	switch {
	case isRead(op.Kind), op.Kind == OpCAS && !op.Swapped:
		w.known[op.Key] = op.Output
	default:
		w.known[op.Key] = op.Value
	}
}
