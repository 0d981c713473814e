package store

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
)

// readDeps is what linearizable reads need from raft and the applier.
type readDeps struct {
	// readIndex asks raft for the commit index, tagged with rctx; the
	// answer arrives on states.
	readIndex func(ctx context.Context, rctx []byte) error
	states    <-chan raft.ReadState
	status    *nodeStatus
	applied   *indexWaiter
	// timeout bounds one read's wait for an answer; retry is how long
	// one ReadIndex request is given before it is sent again.
	timeout time.Duration
	retry   time.Duration
	// staleOnFollowers skips ReadIndex on followers (Config.UnsafeStaleReads).
	staleOnFollowers bool
}

// readBatcher turns concurrent linearizable reads into few ReadIndex
// requests: readers that arrive while one is in flight share the next.
type readBatcher struct {
	readDeps
	mu      sync.Mutex
	pending *readBatch
	kick    chan struct{}
	seq     uint64
	stopc   chan struct{}
	wg      sync.WaitGroup
}

type readBatch struct {
	done  chan struct{}
	index uint64
	err   error
}

func newReadBatcher(deps readDeps) *readBatcher {
	return &readBatcher{
		readDeps: deps,
		pending:  &readBatch{done: make(chan struct{})},
		kick:     make(chan struct{}, 1),
		stopc:    make(chan struct{}),
	}
}

func (r *readBatcher) start() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run()
	}()
}

func (r *readBatcher) stop() {
	select {
	case <-r.stopc:
	default:
		close(r.stopc)
	}
	r.wg.Wait()
}

// read returns once this member has applied everything committed before
// the call, so a local read that follows is linearizable.
func (r *readBatcher) read(ctx context.Context) error {
	if r.staleOnFollowers && !r.status.isLeader() {
		return nil
	}
	r.mu.Lock()
	b := r.pending
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopc:
		return ErrStopped
	}
	if b.err != nil {
		return b.err
	}
	select {
	case <-r.applied.wait(b.index):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopc:
		return ErrStopped
	}
}

func (r *readBatcher) run() {
	for {
		select {
		case <-r.kick:
		case <-r.stopc:
			r.mu.Lock()
			r.pending.err = ErrStopped
			close(r.pending.done)
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		b := r.pending
		r.pending = &readBatch{done: make(chan struct{})}
		r.mu.Unlock()
		b.index, b.err = r.commitIndex()
		close(b.done)
	}
}

// commitIndex asks raft for the commit index, retrying when an answer does
// not come (a lost message, an election in progress) until the request
// timeout.
func (r *readBatcher) commitIndex() (uint64, error) {
	deadline := time.Now().Add(r.timeout)
	for time.Now().Before(deadline) {
		r.seq++
		rctx := binary.BigEndian.AppendUint64(nil, r.seq)
		ctx, cancel := context.WithTimeout(context.Background(), r.retry)
		err := r.readIndex(ctx, rctx)
		if err != nil {
			cancel()
			if err == ErrStopped {
				return 0, err
			}
			continue
		}
		idx, ok := r.await(ctx, rctx)
		cancel()
		if ok {
			return idx, nil
		}
		select {
		case <-r.stopc:
			return 0, ErrStopped
		default:
		}
	}
	if !r.status.hasLeader.Load() {
		return 0, ErrNoLeader
	}
	return 0, ErrTimeout
}

func (r *readBatcher) await(ctx context.Context, rctx []byte) (uint64, bool) {
	want := binary.BigEndian.Uint64(rctx)
	for {
		select {
		case st := <-r.states:
			if len(st.RequestCtx) == 8 && binary.BigEndian.Uint64(st.RequestCtx) == want {
				return st.Index, true
			}
		case <-ctx.Done():
			return 0, false
		case <-r.stopc:
			return 0, false
		}
	}
}
