package workloads

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WatchHeaderSize is the length of the header that starts every value the
// watch workload writes: the writer's id (8 hex digits), its sequence
// number (16) and the send time in Unix nanoseconds (16). Fixed-width hex
// keeps encoding and parsing free of allocations and of separators.
const WatchHeaderSize = 8 + 16 + 16

// WatchFence is the value of the put that closes a watch run. Watch events
// on one range arrive in revision order, so a watcher that has seen the
// fence has seen every event it is ever going to see.
const WatchFence = "adrbench-watch-fence"

// WatchStamp is what a watch workload's value says about its put.
type WatchStamp struct {
	Writer int
	Seq    uint64    // the writer's puts are numbered from 0, in the order sent
	Sent   time.Time // taken just before the put was handed to the client
}

// ParseWatchValue reads the header of a value the watch workload wrote.
// It reports false for anything else (the fence included).
func ParseWatchValue(v []byte) (WatchStamp, bool) {
	if len(v) < WatchHeaderSize {
		return WatchStamp{}, false
	}
	w, ok1 := parseHex(v[0:8])
	seq, ok2 := parseHex(v[8:24])
	ns, ok3 := parseHex(v[24:40])
	if !ok1 || !ok2 || !ok3 {
		return WatchStamp{}, false
	}
	return WatchStamp{Writer: int(w), Seq: seq, Sent: time.Unix(0, int64(ns))}, true
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func appendHex(dst []byte, v uint64, digits int) []byte {
	const hex = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hex[(v>>(4*i))&0xf])
	}
	return dst
}

func appendWatchHeader(dst []byte, writer int, seq uint64, sent time.Time) []byte {
	dst = appendHex(dst, uint64(uint32(writer)), 8)
	dst = appendHex(dst, seq, 16)
	return appendHex(dst, uint64(sent.UnixNano()), 16)
}

// WatchRange is the key range the watch workload writes and its watchers
// watch: every key is KeySize decimal digits, and ':' sorts right after
// '9', so [Key(0), ":") holds them all and nothing else.
func (w *Workload) WatchRange() (key, end string) {
	return Key(0, w.cfg.KeySize), ":"
}

// WatchFenceKey is the key the fence is put to, inside WatchRange.
func (w *Workload) WatchFenceKey() string { return Key(0, w.cfg.KeySize) }

// WatchLedger is what the watch workload's writers did, for checking what
// the watchers received.
type WatchLedger struct {
	// Issued is, per writer, how many puts it sent: sequence numbers
	// 0..Issued-1.
	Issued map[int]uint64
	// Failed holds, per writer, the sequence numbers whose put returned an
	// error. Such a put may or may not have been applied, so a watcher
	// that misses it has missed nothing the store acknowledged.
	Failed map[int]map[uint64]bool
}

// WatchLedger returns a copy of the writers' ledger. Read it after the
// writers have stopped; while they run it is only a lower bound.
func (w *Workload) WatchLedger() WatchLedger {
	l := &w.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	out := WatchLedger{Issued: map[int]uint64{}, Failed: map[int]map[uint64]bool{}}
	for id, n := range l.issued {
		out.Issued[id] = n.Load()
	}
	for id, f := range l.failed {
		out.Failed[id] = maps.Clone(f)
	}
	return out
}

// watchLedger is the shared side of WatchLedger. Writers touch the lock
// only when a put fails, so it is off the hot path.
type watchLedger struct {
	mu     sync.Mutex
	issued map[int]*atomic.Uint64
	failed map[int]map[uint64]bool
}

func newWatchLedger() watchLedger {
	return watchLedger{issued: map[int]*atomic.Uint64{}, failed: map[int]map[uint64]bool{}}
}

func (l *watchLedger) fail(writer int, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failed[writer]
	if f == nil {
		f = map[uint64]bool{}
		l.failed[writer] = f
	}
	f[seq] = true
}

// registerWatchWriter gives worker id its sequence counter. Asking twice
// for one id shares the counter, so sequence numbers stay unique, but a
// writer's puts are in sequence order only when one goroutine sends them.
func (w *Workload) registerWatchWriter(wk *Worker, id int) {
	l := &w.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.issued[id]
	if n == nil {
		n = new(atomic.Uint64)
		l.issued[id] = n
	}
	wk.watch = watchPutOp{writer: id, issued: n, ledger: l,
		buf: make([]byte, 0, w.cfg.ValSize)}
}

// watchPutOp is a put whose value carries its writer, sequence number and
// send time, for watchers to measure delivery latency and find missed and
// duplicated events.
type watchPutOp struct {
	key    string
	pad    string // ValSize-WatchHeaderSize bytes after the header
	buf    []byte
	writer int
	issued *atomic.Uint64
	ledger *watchLedger
}

func (wk *Worker) nextWatchPut() Op {
	wk.watch.key = wk.key(wk.w.keys.existing(wk.r))
	n := wk.w.cfg.ValSize - WatchHeaderSize
	off := wk.r.IntN(n + 1)
	wk.watch.pad = wk.vals[off : off+n]
	return &wk.watch
}

func (o *watchPutOp) Kind() string { return "update" }

// Do numbers the put when it is sent, not when Next made it, so the ledger
// counts only puts that were attempted.
func (o *watchPutOp) Do(ctx context.Context, c *clientv3.Client) error {
	seq := o.issued.Add(1) - 1
	o.buf = appendWatchHeader(o.buf[:0], o.writer, seq, time.Now())
	o.buf = append(o.buf, o.pad...)
	if _, err := c.Put(ctx, o.key, string(o.buf)); err != nil {
		o.ledger.fail(o.writer, seq)
		return err
	}
	return nil
}
