package watch

import (
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// BenchmarkNotify measures Notify with 1000 watchers spread over 10 streams
// whose readers keep up, for single-key and prefix watchers, with one
// watcher matching each event or none.
func BenchmarkNotify(b *testing.B) {
	for _, kind := range []string{"key", "prefix"} {
		for _, match := range []bool{true, false} {
			b.Run(fmt.Sprintf("watchers=1000/kind=%s/match=%v", kind, match), func(b *testing.B) {
				f := newFixture(b, Config{StreamBuffer: 4096})
				var streams []*Stream
				for range 10 {
					s := f.hub.NewStream()
					streams = append(streams, s)
					done := make(chan struct{})
					go func() {
						defer close(done)
						for range s.Chan() {
						}
					}()
					b.Cleanup(func() { s.Close(); <-done })
				}
				for i := range 1000 {
					req := &etcdserverpb.WatchCreateRequest{Key: fmt.Appendf(nil, "key%04d", i)}
					if kind == "prefix" {
						req.RangeEnd = fmt.Appendf(nil, "key%04d~", i)
					}
					streams[i%10].Create(req)
				}
				keys := make([][]byte, 1000)
				for i := range keys {
					if match {
						keys[i] = fmt.Appendf(nil, "key%04d", i)
					} else {
						keys[i] = fmt.Appendf(nil, "other%04d", i)
					}
				}
				rev := f.hub.Rev()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					rev++
					f.hub.Notify(rev, []*mvccpb.Event{{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: keys[i%1000], ModRevision: rev, CreateRevision: rev}}})
				}
				b.StopTimer()
				if syn, unsyn := f.hub.Watchers(); unsyn > 0 {
					b.Logf("%d of %d watchers fell behind", unsyn, syn+unsyn)
				}
			})
		}
	}
}

// matchWatchers makes n synced-index watchers of one kind over keys
// "key%07d": key (one watcher per key), range (one bounded range per key,
// covering that key and the keys extending it), shared (n range watchers
// over only 16 distinct prefixes, as many clients watching the same
// directories) and open (every watcher open-ended at its key, so a key at
// the top of the space matches every one below it). It returns the
// watchers and a probe key for event i.
func matchWatchers(n int, kind string) ([]*watcher, func(i int) []byte) {
	ws := make([]*watcher, n)
	for i := range ws {
		w := &watcher{id: int64(i), key: fmt.Appendf(nil, "key%07d", i)}
		switch kind {
		case "range":
			w.end = fmt.Appendf(nil, "key%07d~", i)
		case "shared":
			w.key = fmt.Appendf(nil, "key%02d", i%16)
			w.end = fmt.Appendf(nil, "key%02d~", i%16)
		case "open":
			w.end = []byte{}
		}
		ws[i] = w
	}
	probes := make([][]byte, 1024)
	for i := range probes {
		switch kind {
		case "shared":
			probes[i] = fmt.Appendf(nil, "key%02d/x%d", i%16, i)
		case "open":
			probes[i] = fmt.Appendf(nil, "key%07d", n-1-i%min(n, 4))
		default:
			probes[i] = fmt.Appendf(nil, "key%07d", (i*7919)%n)
		}
	}
	return ws, func(i int) []byte { return probes[i%len(probes)] }
}

// BenchmarkWatchMatch measures the synced index's lookup of the watchers
// holding one event's key, per kind of watcher (see matchWatchers), and
// reports how many watchers each lookup found.
func BenchmarkWatchMatch(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000} {
		for _, kind := range []string{"key", "range", "shared", "open"} {
			b.Run(fmt.Sprintf("watchers=%d/kind=%s", n, kind), func(b *testing.B) {
				ws, probe := matchWatchers(n, kind)
				ix := newIndex()
				for _, w := range ws {
					ix.add(w)
				}
				dst := make([]*watcher, 0, n)
				found := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					dst = ix.match(probe(i), dst[:0])
					found += len(dst)
				}
				b.StopTimer()
				b.ReportMetric(float64(found)/float64(b.N), "matches/op")
				if found == 0 {
					b.Fatal("no watcher matched")
				}
			})
		}
	}
}

// BenchmarkWatchAddRemove measures taking a watcher out of the synced
// index and putting it back, as a watcher that falls behind and catches
// up does, with n watchers of one kind in the index.
func BenchmarkWatchAddRemove(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000} {
		for _, kind := range []string{"key", "range", "shared"} {
			b.Run(fmt.Sprintf("watchers=%d/kind=%s", n, kind), func(b *testing.B) {
				ws, _ := matchWatchers(n, kind)
				ix := newIndex()
				for _, w := range ws {
					ix.add(w)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					w := ws[(i*7919)%n]
					ix.remove(w)
					ix.add(w)
				}
				b.StopTimer()
				if ix.len() != n {
					b.Fatalf("index holds %d watchers, want %d", ix.len(), n)
				}
			})
		}
	}
}
