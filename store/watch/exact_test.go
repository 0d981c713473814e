package watch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/adrbench/adrbench/store/watch/watchtest"
)

// recorder reads one stream on its own goroutine, from when it is released,
// and keeps every response in order.
type recorder struct {
	s        *Stream
	release  chan struct{}
	progress chan *etcdserverpb.WatchResponse
	done     chan struct{}

	mu  sync.Mutex
	got []*etcdserverpb.WatchResponse
}

func newRecorder(s *Stream, stalled bool) *recorder {
	r := &recorder{s: s, release: make(chan struct{}), progress: make(chan *etcdserverpb.WatchResponse, 1), done: make(chan struct{})}
	if !stalled {
		close(r.release)
	}
	go r.run()
	return r
}

func (r *recorder) run() {
	defer close(r.done)
	<-r.release
	for resp := range r.s.Chan() {
		if resp.WatchId == ProgressWatchID {
			r.progress <- resp
			continue
		}
		r.mu.Lock()
		r.got = append(r.got, resp)
		r.mu.Unlock()
	}
}

// settle waits until everything the stream owes up to now has arrived.
func (r *recorder) settle(t *testing.T) []*etcdserverpb.WatchResponse {
	t.Helper()
	r.s.RequestProgress()
	select {
	case <-r.progress:
	case <-deadline():
		t.Fatalf("no progress response within %v", waitLimit)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type spec struct {
	key, end string
	filters  []etcdserverpb.WatchCreateRequest_FilterType
	start    int64
}

func (sp spec) request(id int64) *etcdserverpb.WatchCreateRequest {
	req := &etcdserverpb.WatchCreateRequest{Key: []byte(sp.key), StartRevision: sp.start, Filters: sp.filters, WatchId: id}
	if sp.end != "" {
		req.RangeEnd = []byte(sp.end)
	}
	return req
}

func (sp spec) wants(ev *mvccpb.Event, from int64) bool {
	var end []byte
	if sp.end != "" {
		end = []byte(sp.end)
	}
	if ev.Kv.ModRevision < from || !watchtest.InRange(ev.Kv.Key, []byte(sp.key), end) {
		return false
	}
	for _, f := range sp.filters {
		if (f == etcdserverpb.WatchCreateRequest_NOPUT && ev.Type == mvccpb.Event_PUT) ||
			(f == etcdserverpb.WatchCreateRequest_NODELETE && ev.Type == mvccpb.Event_DELETE) {
			return false
		}
	}
	return true
}

var (
	noPut    = []etcdserverpb.WatchCreateRequest_FilterType{etcdserverpb.WatchCreateRequest_NOPUT}
	noDelete = []etcdserverpb.WatchCreateRequest_FilterType{etcdserverpb.WatchCreateRequest_NODELETE}
)

// TestExactUnderConcurrentWrites is the hub's central property: while a
// writer commits multi-key revisions, every watcher, whether its reader keeps
// up, stalls until the end, or joins halfway from a past revision, receives
// exactly the events of its range in revision order, each revision in one
// response, and a canceled watcher a gap-free prefix of them.
func TestExactUnderConcurrentWrites(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		writes int
	}{
		{name: "buffer=128", cfg: Config{}, writes: 400},
		{name: "buffer=1/batch=3", cfg: Config{StreamBuffer: 1, MaxEventsPerResponse: 3}, writes: 400},
		{name: "buffer=4/batch=1", cfg: Config{StreamBuffer: 4, MaxEventsPerResponse: 1}, writes: 300},
	}
	specs := []spec{
		{key: "k3"},
		{key: "k", end: "l"},
		{key: "k2", end: "k5"},
		{key: "k6", end: "\x00"},
		{key: "", end: "\x00"},
		{key: "k", end: "l", filters: noPut},
		{key: "k1", filters: noDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			rng := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			half := make(chan int64, 1)
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				for i := range tt.writes {
					n := 1 + rng.IntN(3)
					ops := make([]watchtest.Op, n)
					for j := range ops {
						ops[j] = watchtest.Op{Key: fmt.Sprintf("k%d", rng.IntN(8)), Value: fmt.Sprint(i), Delete: rng.IntN(4) == 0}
					}
					rev := f.hist.Txn(ops...)
					if i == tt.writes/2 {
						half <- rev
					}
				}
			}()

			type watch struct {
				rec      *recorder
				spec     spec
				id       int64
				canceled bool
			}
			var watches []watch
			var recs []*recorder
			add := func(stalled bool, specs []spec) *recorder {
				rec := newRecorder(f.hub.NewStream(), stalled)
				recs = append(recs, rec)
				for i, sp := range specs {
					id := int64(100 + i)
					rec.s.Create(sp.request(id))
					watches = append(watches, watch{rec: rec, spec: sp, id: id})
				}
				return rec
			}
			add(false, specs)
			stalled := add(true, specs)
			mid := <-half
			var late []spec
			for i, sp := range specs {
				// Join halfway: from the start, from a recent past revision,
				// and from now.
				sp.start = []int64{1, mid - 20, 0}[i%3]
				late = append(late, sp)
			}
			cancelRec := add(false, late)
			cancelRec.s.Cancel(100)
			watches[len(watches)-len(late)].canceled = true
			<-writerDone
			close(stalled.release)

			all := f.hist.All()
			finalRev := f.hist.Rev()
			got := make(map[*recorder][]*etcdserverpb.WatchResponse)
			for _, rec := range recs {
				got[rec] = rec.settle(t)
			}
			for _, w := range watches {
				checkWatch(t, got[w.rec], w.id, w.spec, w.canceled, all, finalRev)
			}
			for _, rec := range recs {
				rec.s.Close()
				<-rec.done
			}
		})
	}
}

func checkWatch(t *testing.T, rs []*etcdserverpb.WatchResponse, id int64, sp spec, canceled bool, all []*mvccpb.Event, finalRev int64) {
	t.Helper()
	var mine []*etcdserverpb.WatchResponse
	for _, r := range rs {
		if r.WatchId == id {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 || !mine[0].Created || mine[0].Canceled {
		t.Fatalf("watch %d %+v: first response %v is not Created", id, sp, mine)
	}
	from := sp.start
	if from <= 0 {
		from = mine[0].Header.GetRevision() + 1
	}
	var want []*mvccpb.Event
	for _, ev := range all {
		if sp.wants(ev, from) {
			want = append(want, ev)
		}
	}
	var gotEvs []*mvccpb.Event
	seenRev := make(map[int64]int) // revision -> response index
	for i, r := range mine[1:] {
		if r.Created {
			t.Fatalf("watch %d: second Created", id)
		}
		if r.Canceled {
			if !canceled || i != len(mine)-2 {
				t.Fatalf("watch %d: unexpected cancel at response %d of %d", id, i+1, len(mine))
			}
			continue
		}
		for _, ev := range r.Events {
			if j, ok := seenRev[ev.Kv.ModRevision]; ok && j != i {
				t.Fatalf("watch %d: revision %d split across responses", id, ev.Kv.ModRevision)
			}
			seenRev[ev.Kv.ModRevision] = i
			if r.Header.GetRevision() < ev.Kv.ModRevision {
				t.Fatalf("watch %d: header revision %d below event revision %d", id, r.Header.GetRevision(), ev.Kv.ModRevision)
			}
		}
		gotEvs = append(gotEvs, r.Events...)
	}
	if canceled {
		if !mine[len(mine)-1].Canceled {
			t.Fatalf("watch %d: no Canceled response", id)
		}
		if len(gotEvs) > len(want) {
			t.Fatalf("watch %d: %d events after cancel, more than the %d it could see", id, len(gotEvs), len(want))
		}
		want = want[:len(gotEvs)]
	}
	if len(gotEvs) != len(want) {
		t.Fatalf("watch %d %+v from %d (final %d): got %d events, want %d", id, sp, from, finalRev, len(gotEvs), len(want))
	}
	for i := range want {
		if gotEvs[i] != want[i] && !sameEvent(gotEvs[i], want[i]) {
			t.Fatalf("watch %d: event %d is %v, want %v", id, i, gotEvs[i], want[i])
		}
	}
}

func sameEvent(a, b *mvccpb.Event) bool {
	return a.Type == b.Type && a.Kv.ModRevision == b.Kv.ModRevision && string(a.Kv.Key) == string(b.Kv.Key) && string(a.Kv.Value) == string(b.Kv.Value)
}
