package watch

import (
	"errors"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"gopkg.in/yaml.v3"

	"github.com/adrbench/adrbench/store/watch/watchtest"
)

func TestCreateIDs(t *testing.T) {
	tests := []struct {
		name   string
		reqs   []*etcdserverpb.WatchCreateRequest
		wantID []int64
		refuse []error // nil where the create succeeds
	}{
		{
			name:   "auto ids count from zero",
			reqs:   []*etcdserverpb.WatchCreateRequest{{Key: []byte("a")}, {Key: []byte("b")}, {Key: []byte("c")}},
			wantID: []int64{0, 1, 2},
			refuse: []error{nil, nil, nil},
		},
		{
			name:   "client ids honoured and skipped by auto ids",
			reqs:   []*etcdserverpb.WatchCreateRequest{{Key: []byte("a"), WatchId: 1}, {Key: []byte("b")}, {Key: []byte("c")}, {Key: []byte("d"), WatchId: 7}},
			wantID: []int64{1, 0, 2, 7},
			refuse: []error{nil, nil, nil, nil},
		},
		{
			name:   "duplicate client id refused",
			reqs:   []*etcdserverpb.WatchCreateRequest{{Key: []byte("a"), WatchId: 5}, {Key: []byte("b"), WatchId: 5}},
			wantID: []int64{5, -1},
			refuse: []error{nil, ErrDuplicateWatchID},
		},
		{
			name:   "client id equal to an auto id refused",
			reqs:   []*etcdserverpb.WatchCreateRequest{{Key: []byte("a")}, {Key: []byte("b"), WatchId: 0}, {Key: []byte("c"), WatchId: 1}},
			wantID: []int64{0, 1, -1},
			refuse: []error{nil, nil, ErrDuplicateWatchID},
		},
		{
			name:   "empty range refused",
			reqs:   []*etcdserverpb.WatchCreateRequest{{Key: []byte("b"), RangeEnd: []byte("a")}, {Key: []byte("b"), RangeEnd: []byte("b")}},
			wantID: []int64{-1, -1},
			refuse: []error{ErrEmptyRange, ErrEmptyRange},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.hist.Put("x", "1")
			s := f.hub.NewStream()
			defer s.Close()
			for i, req := range tt.reqs {
				s.Create(req)
				r := recv(t, s)
				if !r.Created || r.WatchId != tt.wantID[i] || r.Header.GetRevision() != 2 {
					t.Fatalf("create %d: got id %d created %v header %v, want id %d at revision 2", i, r.WatchId, r.Created, r.Header, tt.wantID[i])
				}
				if want := tt.refuse[i]; (want == nil) == r.Canceled || (want != nil && r.CancelReason != want.Error()) {
					t.Fatalf("create %d: canceled %v reason %q, want %v", i, r.Canceled, r.CancelReason, want)
				}
			}
		})
	}
}

func TestRangesAndFilters(t *testing.T) {
	tests := []struct {
		name string
		req  *etcdserverpb.WatchCreateRequest
		want []string // "key=value" or "key!" for a delete
	}{
		{name: "single key", req: &etcdserverpb.WatchCreateRequest{Key: []byte("foo")}, want: []string{"foo=1", "foo!"}},
		{name: "prefix", req: &etcdserverpb.WatchCreateRequest{Key: []byte("foo"), RangeEnd: []byte("fop")}, want: []string{"foo=1", "foo1=2", "foo!"}},
		{name: "range", req: &etcdserverpb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("foo1")}, want: []string{"a=0", "foo=1", "foo!"}},
		{name: "from key", req: &etcdserverpb.WatchCreateRequest{Key: []byte("foo1"), RangeEnd: []byte{0}}, want: []string{"foo1=2", "zzz=3"}},
		{name: "all keys", req: &etcdserverpb.WatchCreateRequest{RangeEnd: []byte{0}}, want: []string{"a=0", "foo=1", "foo1=2", "zzz=3", "foo!"}},
		{name: "no put", req: &etcdserverpb.WatchCreateRequest{Key: []byte("foo"), Filters: []etcdserverpb.WatchCreateRequest_FilterType{etcdserverpb.WatchCreateRequest_NOPUT}}, want: []string{"foo!"}},
		{name: "no delete", req: &etcdserverpb.WatchCreateRequest{Key: []byte("foo"), RangeEnd: []byte("fop"), Filters: []etcdserverpb.WatchCreateRequest_FilterType{etcdserverpb.WatchCreateRequest_NODELETE}}, want: []string{"foo=1", "foo1=2"}},
	}
	for _, tt := range tests {
		for _, past := range []bool{false, true} {
			name := tt.name + "/live"
			if past {
				name = tt.name + "/catch-up"
			}
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, Config{})
				s := f.hub.NewStream()
				defer s.Close()
				req := tt.req
				if past {
					req.StartRevision = 2
				} else {
					create(t, s, req)
				}
				f.hist.Put("a", "0")
				f.hist.Put("foo", "1")
				f.hist.Put("foo1", "2")
				f.hist.Put("zzz", "3")
				f.hist.Delete("foo")
				if past {
					create(t, s, req)
				}
				rs, _ := drain(t, s)
				var got []string
				for _, e := range flatten(rs) {
					if e.del {
						got = append(got, e.key+"!")
					} else {
						got = append(got, e.key+"="+e.val)
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestPrevKV(t *testing.T) {
	for _, tt := range []struct {
		name   string
		prevKV bool
		past   bool
		want   []string
	}{
		{name: "live with prev_kv", prevKV: true, want: []string{"", "1", "2"}},
		{name: "catch-up with prev_kv", prevKV: true, past: true, want: []string{"", "1", "2"}},
		{name: "without prev_kv", want: []string{"", "", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			s := f.hub.NewStream()
			defer s.Close()
			req := &etcdserverpb.WatchCreateRequest{Key: []byte("k"), PrevKv: tt.prevKV}
			if !tt.past {
				create(t, s, req)
			}
			f.hist.Put("k", "1")
			f.hist.Put("k", "2")
			f.hist.Delete("k")
			if tt.past {
				req.StartRevision = 1
				create(t, s, req)
			}
			rs, _ := drain(t, s)
			var got []string
			for _, e := range flatten(rs) {
				got = append(got, e.prev)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("prev values %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStartRevision(t *testing.T) {
	tests := []struct {
		name  string
		start int64
		want  []int64 // revisions seen
	}{
		{name: "now", start: 0, want: []int64{5, 6}},
		{name: "past", start: 3, want: []int64{3, 4, 5, 6}},
		{name: "first revision", start: 1, want: []int64{2, 3, 4, 5, 6}},
		{name: "current revision", start: 4, want: []int64{4, 5, 6}},
		{name: "next revision", start: 5, want: []int64{5, 6}},
		{name: "future", start: 6, want: []int64{6}},
		{name: "far future", start: 100, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			for i := range 3 {
				f.hist.Put("k", string(rune('a'+i)))
			}
			s := f.hub.NewStream()
			defer s.Close()
			create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), StartRevision: tt.start})
			f.hist.Put("k", "x")
			f.hist.Put("k", "y")
			rs, p := drain(t, s)
			var got []int64
			for _, e := range flatten(rs) {
				got = append(got, e.rev)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("revisions %v, want %v", got, tt.want)
			}
			if p.Header.GetRevision() != 6 {
				t.Fatalf("progress at %d, want 6", p.Header.GetRevision())
			}
		})
	}
}

func TestCompacted(t *testing.T) {
	t.Run("start revision compacted", func(t *testing.T) {
		f := newFixture(t, Config{})
		for range 5 {
			f.hist.Put("k", "v")
		}
		f.hist.Compact(4)
		s := f.hub.NewStream()
		defer s.Close()
		id := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), StartRevision: 2})
		r := recv(t, s)
		if r.WatchId != id || !r.Canceled || r.CompactRevision != 4 || len(r.Events) != 0 {
			t.Fatalf("got %v, want canceled with compact revision 4", r)
		}
		// The watcher is gone: its id is free and cancel does nothing.
		s.Cancel(id)
		if rs, _ := drain(t, s); len(rs) != 0 {
			t.Fatalf("responses after compaction: %v", rs)
		}
		if syn, unsyn := f.hub.Watchers(); syn+unsyn != 0 {
			t.Fatalf("%d synced and %d unsynced watchers left", syn, unsyn)
		}
	})
	t.Run("without IsCompacted", func(t *testing.T) {
		hist := watchtest.New()
		hub := NewHub(hist, Config{})
		defer hub.Close()
		hist.SetNotify(hub.Notify)
		for range 3 {
			hist.Put("k", "v")
		}
		hist.Compact(3)
		s := hub.NewStream()
		create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), StartRevision: 1})
		if r := recv(t, s); !r.Canceled || r.CompactRevision != 3 {
			t.Fatalf("got %v, want compacted at 3", r)
		}
	})
	t.Run("fell behind past compaction", func(t *testing.T) {
		f := newFixture(t, Config{StreamBuffer: 1, MaxEventsPerResponse: 1})
		s := f.hub.NewStream()
		defer s.Close()
		id := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k")})
		for range 20 {
			f.hist.Put("k", "v")
		}
		// Nobody reads, so at most a few responses are queued and the
		// watcher is far behind revision 15.
		f.hist.Compact(15)
		var revs []int64
		for {
			r := recv(t, s)
			if r.WatchId != id {
				t.Fatalf("unexpected response %v", r)
			}
			if r.Canceled {
				if r.CompactRevision != 15 {
					t.Fatalf("canceled with compact revision %d, want 15", r.CompactRevision)
				}
				break
			}
			for _, ev := range r.Events {
				revs = append(revs, ev.Kv.ModRevision)
			}
		}
		if len(revs) == 0 || len(revs) >= 14 {
			t.Fatalf("saw revisions %v before the compaction notice", revs)
		}
		for i, rev := range revs {
			if rev != int64(2+i) {
				t.Fatalf("revisions %v are not 2, 3, ...", revs)
			}
		}
	})
}

func TestCancel(t *testing.T) {
	for _, tt := range []struct {
		name string
		past bool
	}{{name: "synced"}, {name: "catching up", past: true}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{StreamBuffer: 1})
			for range 5 {
				f.hist.Put("k", "v")
			}
			s := f.hub.NewStream()
			defer s.Close()
			req := &etcdserverpb.WatchCreateRequest{Key: []byte("k")}
			if tt.past {
				req.StartRevision = 2
			}
			keep := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("other")})
			id := create(t, s, req)
			s.Cancel(id)
			s.Cancel(id)   // already gone: no second response
			s.Cancel(1234) // unknown: nothing
			f.hist.Put("k", "after")
			f.hist.Put("other", "v")
			rs, _ := drain(t, s)
			var canceled int
			for _, r := range rs {
				switch {
				case r.WatchId == id && r.Canceled:
					canceled++
				case r.WatchId == id && canceled > 0:
					t.Fatalf("response after cancel: %v", r)
				case r.WatchId == keep && len(r.Events) == 1 && string(r.Events[0].Kv.Key) == "other":
				case r.WatchId == id:
				default:
					t.Fatalf("unexpected response %v", r)
				}
			}
			if canceled != 1 {
				t.Fatalf("%d canceled responses, want 1", canceled)
			}
			for _, e := range flatten(rs) {
				if e.val == "after" {
					t.Fatalf("event after cancel delivered")
				}
			}
		})
	}
}

func TestRequestProgress(t *testing.T) {
	t.Run("no watchers", func(t *testing.T) {
		f := newFixture(t, Config{})
		f.hist.Put("a", "1")
		s := f.hub.NewStream()
		defer s.Close()
		if rs, p := drain(t, s); len(rs) != 0 || p.Header.GetRevision() != 2 || len(p.Events) != 0 {
			t.Fatalf("got %v then %v, want a bare progress at 2", rs, p)
		}
	})
	t.Run("deferred until caught up", func(t *testing.T) {
		f := newFixture(t, Config{StreamBuffer: 1, MaxEventsPerResponse: 1})
		for range 30 {
			f.hist.Put("k", "v")
		}
		s := f.hub.NewStream()
		defer s.Close()
		create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), StartRevision: 2})
		s.RequestProgress()
		s.RequestProgress() // absorbed by the pending one
		var last int64
		for {
			r := recv(t, s)
			if r.WatchId == ProgressWatchID {
				if last != 31 || r.Header.GetRevision() != 31 {
					t.Fatalf("progress at %d after events up to %d, want both 31", r.Header.GetRevision(), last)
				}
				break
			}
			for _, ev := range r.Events {
				if ev.Kv.ModRevision != last+1 && last != 0 {
					t.Fatalf("revision %d after %d", ev.Kv.ModRevision, last)
				}
				last = ev.Kv.ModRevision
			}
		}
		// The second request was absorbed: the next progress answers a new one.
		if rs, _ := drain(t, s); len(rs) != 0 {
			t.Fatalf("unexpected responses %v", rs)
		}
	})
}

func TestProgressNotify(t *testing.T) {
	f := newFixture(t, Config{ProgressNotifyInterval: 5e6}) // 5ms
	f.hist.Put("a", "1")
	s := f.hub.NewStream()
	defer s.Close()
	quiet := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("b")})
	id := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("a"), ProgressNotify: true})
	for range 3 {
		r := recv(t, s)
		if r.WatchId == quiet {
			t.Fatalf("progress for a watcher that did not ask: %v", r)
		}
		if r.WatchId != id || len(r.Events) != 0 || r.Header.GetRevision() != 2 {
			t.Fatalf("got %v, want a progress for %d at 2", r, id)
		}
	}
}

func TestFragmentedWatch(t *testing.T) {
	f := newFixture(t, Config{MaxResponseBytes: 300})
	s := f.hub.NewStream()
	defer s.Close()
	whole := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")})
	frag := create(t, s, &etcdserverpb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l"), Fragment: true})
	val := string(make([]byte, 100))
	var ops []watchtest.Op
	for i := range 10 {
		ops = append(ops, watchtest.Op{Key: "k" + string(rune('0'+i)), Value: val})
	}
	f.hist.Txn(ops...)
	rs, _ := drain(t, s)
	var wholeN, fragN, fragEvents int
	for _, r := range rs {
		switch r.WatchId {
		case whole:
			wholeN++
			if len(r.Events) != 10 || r.Fragment {
				t.Fatalf("unfragmented watcher got %d events fragment=%v", len(r.Events), r.Fragment)
			}
		case frag:
			fragN++
			fragEvents += len(r.Events)
			last := fragEvents == 10
			if r.Fragment == last {
				t.Fatalf("fragment %d: Fragment=%v with %d of 10 events", fragN, r.Fragment, fragEvents)
			}
		}
	}
	if wholeN != 1 || fragN < 4 || fragEvents != 10 {
		t.Fatalf("whole %d responses, fragmented %d responses with %d events", wholeN, fragN, fragEvents)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "zero", cfg: Config{}, ok: true},
		{name: "default", cfg: DefaultConfig(), ok: true},
		{name: "negative buffer", cfg: Config{StreamBuffer: -1}},
		{name: "negative interval", cfg: Config{ProgressNotifyInterval: -1}},
		{name: "negative events", cfg: Config{MaxEventsPerResponse: -1}},
		{name: "negative bytes", cfg: Config{MaxResponseBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	in := Config{StreamBuffer: 7, ProgressNotifyInterval: 3e9, MaxEventsPerResponse: 9, MaxResponseBytes: 1 << 20}
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Config
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.StreamBuffer != in.StreamBuffer || out.ProgressNotifyInterval != in.ProgressNotifyInterval ||
		out.MaxEventsPerResponse != in.MaxEventsPerResponse || out.MaxResponseBytes != in.MaxResponseBytes {
		t.Fatalf("round trip %+v -> %s -> %+v", in, b, out)
	}
}
