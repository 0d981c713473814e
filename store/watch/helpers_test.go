package watch

import (
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/adrbench/adrbench/store/watch/watchtest"
)

// waitLimit bounds every wait for a response; tests never sleep, they wait
// on channels and fail when this passes.
const waitLimit = 20 * time.Second

type fixture struct {
	hist *watchtest.History
	hub  *Hub
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	hist := watchtest.New()
	if cfg.IsCompacted == nil {
		cfg.IsCompacted = watchtest.IsCompacted
	}
	hub := NewHub(hist, cfg)
	hist.SetNotify(hub.Notify)
	t.Cleanup(hub.Close)
	return &fixture{hist: hist, hub: hub}
}

func deadline() <-chan time.Time { return time.After(waitLimit) }

func recv(t testing.TB, s *Stream) *etcdserverpb.WatchResponse {
	t.Helper()
	select {
	case r, ok := <-s.Chan():
		if !ok {
			t.Fatalf("stream closed while waiting for a response")
		}
		return r
	case <-time.After(waitLimit):
		t.Fatalf("no response within %v", waitLimit)
	}
	return nil
}

// drain returns every response up to, not including, the next progress
// notification answering a RequestProgress made now. The progress response
// is queued after everything the stream had to send, so nothing is missed
// and nothing needs a sleep.
func drain(t testing.TB, s *Stream) ([]*etcdserverpb.WatchResponse, *etcdserverpb.WatchResponse) {
	t.Helper()
	s.RequestProgress()
	var got []*etcdserverpb.WatchResponse
	for {
		r := recv(t, s)
		if r.WatchId == ProgressWatchID && !r.Created && !r.Canceled {
			return got, r
		}
		got = append(got, r)
	}
}

func create(t testing.TB, s *Stream, req *etcdserverpb.WatchCreateRequest) int64 {
	t.Helper()
	s.Create(req)
	r := recv(t, s)
	if !r.Created || r.Canceled {
		t.Fatalf("create %v: got %v", req, r)
	}
	return r.WatchId
}

type evKey struct {
	rev  int64
	key  string
	val  string
	del  bool
	prev string
}

func flatten(rs []*etcdserverpb.WatchResponse) []evKey {
	var out []evKey
	for _, r := range rs {
		for _, ev := range r.Events {
			e := evKey{rev: ev.Kv.ModRevision, key: string(ev.Kv.Key), val: string(ev.Kv.Value), del: ev.Type == 1}
			if ev.PrevKv != nil {
				e.prev = string(ev.PrevKv.Value)
			}
			out = append(out, e)
		}
	}
	return out
}
