package workloads

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want error
	}{
		{name: "default", edit: func(c *Config) {}},
		{name: "unknown workload", edit: func(c *Config) { c.Name = "bogus" }, want: ErrUnknown},
		{name: "unknown distribution", edit: func(c *Config) { c.Distribution = "pareto" }, want: ErrUnknown},
		{name: "zero key size", edit: func(c *Config) { c.KeySize = 0 }, want: ErrConfig},
		{name: "key space too big for key size", edit: func(c *Config) { c.KeySize = 2; c.KeySpace = 101 }, want: ErrConfig},
		{name: "key space fits exactly", edit: func(c *Config) { c.KeySize = 2; c.KeySpace = 100; c.TxnKeys = 10 }},
		{name: "negative value size", edit: func(c *Config) { c.ValSize = -1 }, want: ErrConfig},
		{name: "theta 1", edit: func(c *Config) { c.ZipfTheta = 1 }, want: ErrConfig},
		{name: "txn keys above key space", edit: func(c *Config) { c.TxnKeys = c.KeySpace + 1 }, want: ErrConfig},
		{name: "short lease", edit: func(c *Config) { c.LeaseTTL = time.Millisecond }, want: ErrConfig},
		{name: "empty mix", edit: func(c *Config) { c.Name = Mixed }, want: ErrConfig},
		{name: "mix", edit: func(c *Config) { c.Name = Mixed; c.Mix.Read = 1 }},
		{name: "lease revoke above 1", edit: func(c *Config) { c.LeaseRevoke = 1.5 }, want: ErrConfig},
		{name: "watch", edit: func(c *Config) { c.Name = Watch }},
		{name: "watch without watchers", edit: func(c *Config) { c.Name = Watch; c.Watchers = 0 }, want: ErrConfig},
		{name: "watch value too small for header", edit: func(c *Config) { c.Name = Watch; c.ValSize = WatchHeaderSize - 1 }, want: ErrConfig},
		{name: "small value without watch", edit: func(c *Config) { c.ValSize = 1; c.Watchers = 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Mix
		wantErr bool
	}{
		{name: "two", in: "read=50,update=50", want: Mix{Read: 50, Update: 50}},
		{name: "spaces", in: " read = 1 , txn=2 ,", want: Mix{Read: 1, Txn: 2}},
		{name: "all", in: "read=1,update=2,insert=3,scan=4,rmw=5,delete=6,txn=7", want: Mix{1, 2, 3, 4, 5, 6, 7}},
		{name: "unknown op", in: "read=1,write=2", wantErr: true},
		{name: "no weight", in: "read", wantErr: true},
		{name: "negative", in: "read=-1", wantErr: true},
		{name: "not a number", in: "read=lots", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMix(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("ParseMix(%q): %v, want ErrConfig", tc.in, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMix(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestKeyFormat(t *testing.T) {
	tests := []struct {
		i, size int
		want    string
	}{
		{0, 8, "00000000"}, {42, 8, "00000042"}, {99999999, 8, "99999999"},
		{100000000, 8, "00000000"}, {7, 1, "7"}, {123, 2, "23"},
	}
	for _, tc := range tests {
		if got := Key(tc.i, tc.size); got != tc.want {
			t.Errorf("Key(%d, %d) = %q, want %q", tc.i, tc.size, got, tc.want)
		}
	}
	if !(Key(9, 4) < Key(10, 4)) {
		t.Error("keys do not sort numerically")
	}
}

// ops draws n operations from worker id of cfg.
func ops(t *testing.T, cfg Config, id, n int) (kinds map[string]int, keys []string) {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wk := w.Worker(id)
	kinds = map[string]int{}
	for range n {
		op := wk.Next()
		kinds[op.Kind()]++
		keys = append(keys, opKey(op))
	}
	return kinds, keys
}

func opKey(op Op) string {
	switch o := op.(type) {
	case *getOp:
		return o.key
	case *putOp:
		return o.key
	case *scanOp:
		return o.key
	case *rmwOp:
		return o.key
	case *deleteOp:
		return o.key
	case *casOp:
		return o.key
	case *leaseOp:
		return o.key
	case *watchPutOp:
		return o.key
	}
	return ""
}

func TestMixes(t *testing.T) {
	const n = 20000
	tests := []struct {
		name string
		cfg  func(c *Config)
		want map[string]float64 // fraction per kind
	}{
		{name: "put", cfg: func(c *Config) { c.Name = Put }, want: map[string]float64{"update": 1}},
		{name: "range", cfg: func(c *Config) { c.Name = Range }, want: map[string]float64{"read": 1}},
		{name: "delete", cfg: func(c *Config) { c.Name = Delete }, want: map[string]float64{"delete": 1}},
		{name: "txn", cfg: func(c *Config) { c.Name = Txn }, want: map[string]float64{"txn": 1}},
		{name: "lease", cfg: func(c *Config) { c.Name = Lease }, want: map[string]float64{"lease": 1}},
		{name: "watch", cfg: func(c *Config) { c.Name = Watch }, want: map[string]float64{"update": 1}},
		{name: "ycsb-a", cfg: func(c *Config) { c.Name = YCSBA }, want: map[string]float64{"read": .5, "update": .5}},
		{name: "ycsb-b", cfg: func(c *Config) { c.Name = YCSBB }, want: map[string]float64{"read": .95, "update": .05}},
		{name: "ycsb-c", cfg: func(c *Config) { c.Name = YCSBC }, want: map[string]float64{"read": 1}},
		{name: "ycsb-d", cfg: func(c *Config) { c.Name = YCSBD }, want: map[string]float64{"read": .95, "insert": .05}},
		{name: "ycsb-e", cfg: func(c *Config) { c.Name = YCSBE }, want: map[string]float64{"scan": .95, "insert": .05}},
		{name: "ycsb-f", cfg: func(c *Config) { c.Name = YCSBF }, want: map[string]float64{"read": .5, "rmw": .5}},
		{name: "mixed", cfg: func(c *Config) { c.Name = Mixed; c.Mix = Mix{Delete: 1, Txn: 3} },
			want: map[string]float64{"delete": .25, "txn": .75}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.KeySpace = 1000
			tc.cfg(&c)
			kinds, _ := ops(t, c, 0, n)
			for kind, frac := range tc.want {
				got := float64(kinds[kind]) / n
				if got < frac-0.02 || got > frac+0.02 {
					t.Errorf("%s: %.3f of ops, want %.3f", kind, got, frac)
				}
			}
			for kind := range kinds {
				if _, ok := tc.want[kind]; !ok {
					t.Errorf("unexpected %s ops", kind)
				}
			}
		})
	}
}

// TestDistributions checks each distribution's shape on a fixed seed: the
// share of operations on the most popular 1% of keys.
func TestDistributions(t *testing.T) {
	const n, space = 50000, 10000
	tests := []struct {
		dist     string
		min, max float64 // share of ops on the top 1% of keys
	}{
		{Uniform, 0.005, 0.03},
		{Zipfian, 0.3, 0.8},
		{Latest, 0.3, 0.8},
		{Hotspot, 0.03, 0.09}, // 80% of ops on 20% of keys: 4% on the top 1%
		{Sequential, 0.009, 0.011},
	}
	for _, tc := range tests {
		t.Run(tc.dist, func(t *testing.T) {
			c := DefaultConfig()
			c.Name, c.KeySpace, c.Distribution = Range, space, tc.dist
			_, keys := ops(t, c, 3, n)
			counts := map[string]int{}
			for _, k := range keys {
				if len(k) != c.KeySize {
					t.Fatalf("key %q is not %d bytes", k, c.KeySize)
				}
				if k >= Key(space, c.KeySize) {
					t.Fatalf("key %q outside the key space", k)
				}
				counts[k]++
			}
			top := topShare(counts, space/100, n)
			if top < tc.min || top > tc.max {
				t.Errorf("top 1%% of keys got %.3f of ops, want in [%.3f, %.3f]", top, tc.min, tc.max)
			}
		})
	}
}

func topShare(counts map[string]int, k, n int) float64 {
	var cs []int
	for _, c := range counts {
		cs = append(cs, c)
	}
	// partial selection is enough; the sizes here are small
	for i := 0; i < k && i < len(cs); i++ {
		m := i
		for j := i + 1; j < len(cs); j++ {
			if cs[j] > cs[m] {
				m = j
			}
		}
		cs[i], cs[m] = cs[m], cs[i]
	}
	var s int
	for i := 0; i < k && i < len(cs); i++ {
		s += cs[i]
	}
	return float64(s) / float64(n)
}

func TestLatestFollowsInserts(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.KeySpace = YCSBD, 1000
	w, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	wk := w.Worker(0)
	var lastInsert string
	var nearLatest, reads int
	for range 20000 {
		op := wk.Next()
		switch op.Kind() {
		case "insert":
			lastInsert = opKey(op)
		case "read":
			if lastInsert != "" {
				reads++
				if opKey(op) >= Key(w.keys.space, c.KeySize) { // only inserted keys are above the initial space
					nearLatest++
				}
			}
		}
	}
	if lastInsert != Key(int(w.keys.inserted.Load())-1, c.KeySize) {
		t.Errorf("last insert %q, want the newest index", lastInsert)
	}
	if nearLatest*2 < reads {
		t.Errorf("%d of %d reads hit inserted keys; latest should favour them", nearLatest, reads)
	}
}

func TestWorkersDeterministicAndDistinct(t *testing.T) {
	c := DefaultConfig()
	c.Name = YCSBA
	_, a := ops(t, c, 1, 100)
	_, b := ops(t, c, 1, 100)
	_, other := ops(t, c, 2, 100)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != other[i]
	}
	if !same {
		t.Error("worker 1 is not reproducible from the seed")
	}
	if !differ {
		t.Error("workers 1 and 2 draw the same keys")
	}
}

func TestValues(t *testing.T) {
	c := DefaultConfig()
	c.ValSize = 300
	w, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	wk := w.Worker(0)
	for range 100 {
		if v := wk.Next().(*putOp).val; len(v) != 300 {
			t.Fatalf("value of %d bytes, want 300", len(v))
		}
	}
	c.ValSize = 0
	if w, err = New(c); err != nil {
		t.Fatal(err)
	}
	if v := w.Worker(0).Next().(*putOp).val; v != "" {
		t.Fatalf("value %q, want empty", v)
	}
}

func BenchmarkNext(b *testing.B) {
	for _, name := range []string{Put, YCSBA, YCSBE} {
		b.Run("workload="+name, func(b *testing.B) {
			c := DefaultConfig()
			c.Name = name
			w, err := New(c)
			if err != nil {
				b.Fatal(err)
			}
			wk := w.Worker(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				wk.Next()
			}
		})
	}
}
