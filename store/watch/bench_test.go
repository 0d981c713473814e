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
