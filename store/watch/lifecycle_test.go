package watch

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// TestNoLeaks checks that closing streams and the hub ends every goroutine
// the hub started, including a send goroutine blocked on an unread channel
// and watchers still catching up.
func TestNoLeaks(t *testing.T) {
	tests := []struct {
		name  string
		close func(f *fixture, streams []*Stream)
	}{
		{name: "streams then hub", close: func(f *fixture, ss []*Stream) {
			for _, s := range ss {
				s.Close()
			}
			f.hub.Close()
		}},
		{name: "hub only", close: func(f *fixture, _ []*Stream) { f.hub.Close() }},
		{name: "cancel, close twice", close: func(f *fixture, ss []*Stream) {
			for _, s := range ss {
				s.Cancel(0)
				s.Close()
				s.Close()
			}
			f.hub.Close()
			f.hub.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			f := newFixture(t, Config{StreamBuffer: 2, MaxEventsPerResponse: 1})
			var ss []*Stream
			for i := range 4 {
				s := f.hub.NewStream()
				ss = append(ss, s)
				s.Create(&etcdserverpb.WatchCreateRequest{Key: []byte("k")})
				s.Create(&etcdserverpb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte{0}, ProgressNotify: true})
				if i%2 == 1 {
					recv(t, s) // one reader took something, the others none
				}
			}
			for range 20 {
				f.hist.Put("k", "v")
			}
			for _, s := range ss {
				s.Create(&etcdserverpb.WatchCreateRequest{Key: []byte("k"), StartRevision: 1})
			}
			tt.close(f, ss)
			for _, s := range ss {
				for range s.Chan() {
				}
			}
			// Calls after close do nothing and do not block.
			s := f.hub.NewStream()
			s.Create(&etcdserverpb.WatchCreateRequest{Key: []byte("k")})
			s.RequestProgress()
			f.hist.Put("k", "late")
			if _, ok := <-s.Chan(); ok {
				t.Fatalf("stream made after Close delivered a response")
			}
			waitGoroutines(t, before)
		})
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	end := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > want {
		if time.Now().After(end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// TestNotifyAllocations checks that a revision nobody watches costs Notify
// no allocation however many watchers there are.
func TestNotifyAllocations(t *testing.T) {
	f := newFixture(t, Config{})
	s := f.hub.NewStream()
	defer s.Close()
	for i := range 1000 {
		s.Create(&etcdserverpb.WatchCreateRequest{Key: fmt.Appendf(nil, "key%04d", i)})
	}
	for i := range 50 {
		s.Create(&etcdserverpb.WatchCreateRequest{Key: fmt.Appendf(nil, "range%02d", i), RangeEnd: fmt.Appendf(nil, "range%02d~", i)})
	}
	evs := []*mvccpb.Event{{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: []byte("nobody"), Value: []byte("v")}}}
	rev := f.hub.Rev()
	allocs := testing.AllocsPerRun(1000, func() {
		rev++
		evs[0].Kv.ModRevision = rev
		f.hub.Notify(rev, evs)
	})
	if allocs != 0 {
		t.Fatalf("Notify with no matching watcher: %v allocations, want 0", allocs)
	}
}

func TestFragment(t *testing.T) {
	ev := func(n int) *mvccpb.Event {
		return &mvccpb.Event{Kv: &mvccpb.KeyValue{Key: []byte("k"), Value: make([]byte, n), ModRevision: 9}}
	}
	tests := []struct {
		name  string
		evs   []*mvccpb.Event
		max   int
		parts int
	}{
		{name: "fits", evs: []*mvccpb.Event{ev(10), ev(10)}, max: 1000, parts: 1},
		{name: "one big event", evs: []*mvccpb.Event{ev(5000)}, max: 1000, parts: 1},
		{name: "split evenly", evs: []*mvccpb.Event{ev(400), ev(400), ev(400), ev(400)}, max: 1000, parts: 2},
		{name: "big event alone", evs: []*mvccpb.Event{ev(10), ev(5000), ev(10)}, max: 1000, parts: 3},
		{name: "every event alone", evs: []*mvccpb.Event{ev(900), ev(900), ev(900)}, max: 1000, parts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &etcdserverpb.WatchResponse{Header: &etcdserverpb.ResponseHeader{Revision: 9}, WatchId: 3, Events: tt.evs}
			parts := fragment(r, tt.max)
			if len(parts) != tt.parts {
				t.Fatalf("%d parts, want %d", len(parts), tt.parts)
			}
			var got []*mvccpb.Event
			for i, p := range parts {
				if p.Fragment != (i < len(parts)-1) || p.WatchId != 3 || p.Header.GetRevision() != 9 {
					t.Fatalf("part %d: fragment %v id %d header %v", i, p.Fragment, p.WatchId, p.Header)
				}
				if len(p.Events) > 1 && proto.Size(p) >= tt.max {
					t.Fatalf("part %d has %d events in %d bytes, limit %d", i, len(p.Events), proto.Size(p), tt.max)
				}
				got = append(got, p.Events...)
			}
			if len(got) != len(tt.evs) {
				t.Fatalf("%d events after fragmenting, want %d", len(got), len(tt.evs))
			}
			for i := range got {
				if got[i] != tt.evs[i] {
					t.Fatalf("event %d reordered", i)
				}
			}
		})
	}
}
