package harness

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Histogram bounds: nanoseconds from 1 ns to one hour at 3 significant
// digits. An open-loop run far above capacity can queue for minutes; values
// beyond an hour are clamped, never dropped.
const (
	histLowest  = 1
	histHighest = int64(time.Hour)
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// shard is one recorder's share of the measurements. Workers are spread over
// shards so that no lock is shared by every request; the aggregator takes
// each shard's lock once per tick. There are fewer shards than workers
// because a histogram at these bounds is ~270 KB: a thousand of them would
// cost more memory than the data they hold.
type shard struct {
	mu    sync.Mutex
	h     *hdrhistogram.Histogram
	errs  map[string]int64
	nerrs int64
	// spare is an empty histogram that drainInto swaps in for h, so the
	// merge (tens of thousands of buckets) runs outside the lock and never
	// stalls a recorder. Only drainInto touches it, one caller at a time.
	spare *hdrhistogram.Histogram
	_     [40]byte // keep neighbouring shards' locks off one cache line
}

func newShard() *shard {
	return &shard{h: newHistogram(), spare: newHistogram(), errs: map[string]int64{}}
}

func (s *shard) record(lat time.Duration, err error) {
	v := min(max(int64(lat), histLowest), histHighest)
	s.mu.Lock()
	if err == nil {
		// v is within the histogram's bounds, so RecordValue cannot fail.
		_ = s.h.RecordValue(v)
	} else {
		s.errs[Code(err)]++
		s.nerrs++
	}
	s.mu.Unlock()
}

// drainInto moves the shard's samples into h and errs and resets it.
// Callers must not call it concurrently on one shard.
func (s *shard) drainInto(h *hdrhistogram.Histogram, errs map[string]int64) (nerrs int64) {
	s.mu.Lock()
	full := s.h
	s.h = s.spare
	for c, n := range s.errs {
		errs[c] += n
		delete(s.errs, c)
	}
	nerrs, s.nerrs = s.nerrs, 0
	s.mu.Unlock()
	h.Merge(full)
	full.Reset()
	s.spare = full
	return nerrs
}

// Code names the gRPC status code of an operation's error, as the etcd
// client reports it; a context error maps to its gRPC equivalent.
func Code(err error) string {
	if err == nil {
		return codes.OK.String()
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code().String()
	}
	if s, ok := status.FromError(err); ok {
		return s.Code().String()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded.String()
	case errors.Is(err, context.Canceled):
		return codes.Canceled.String()
	}
	return codes.Unknown.String()
}
