package mvcc

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// BenchmarkApplyPut measures the apply path of a put: index update, one
// encode, a buffered bbolt put, notify; batches commit as configured.
func BenchmarkApplyPut(b *testing.B) {
	for _, keys := range []int{1000, 100000} {
		for _, val := range []int{256} {
			b.Run(fmt.Sprintf("keys=%d/val=%d", keys, val), func(b *testing.B) {
				s, err := Open(DefaultConfig(filepath.Join(b.TempDir(), "db")), func(int64, []*mvccpb.Event) {})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = s.Close() }()
				reqs := make([]*pb.InternalRaftRequest, keys)
				for i := range reqs {
					reqs[i] = &pb.InternalRaftRequest{Put: &pb.PutRequest{
						Key: []byte(fmt.Sprintf("key-%08d", i*7919%keys)), Value: make([]byte, val)}}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := s.Apply(uint64(i+1), reqs[i%keys]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRange measures a serializable point read while writes sit in
// the uncommitted batch and in bbolt.
func BenchmarkRange(b *testing.B) {
	s, err := Open(DefaultConfig(filepath.Join(b.TempDir(), "db")), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const keys = 10000
	for i := 0; i < keys; i++ {
		if _, err := s.Apply(uint64(i+1), putReq(fmt.Sprintf("key-%08d", i), "value")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Range(&pb.RangeRequest{Key: []byte(fmt.Sprintf("key-%08d", i%keys))}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompactApply measures how long a compaction holds the apply
// path: the Apply that carries it, and the first commit after it, which
// holds the batch transaction as Apply needs it. The store holds records
// versions of 1000 keys; the compaction drops all but the latest of each.
func BenchmarkCompactApply(b *testing.B) {
	for _, records := range []int{100000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			var applyNs, commitNs int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := Open(DefaultConfig(filepath.Join(b.TempDir(), fmt.Sprint("db", i))), nil)
				if err != nil {
					b.Fatal(err)
				}
				val := string(make([]byte, 256))
				for j := range records {
					if _, err := s.Apply(uint64(j+1), putReq(fmt.Sprintf("key-%04d", j%1000), val)); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
				req := &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: s.Rev()}}
				b.StartTimer()
				start := time.Now()
				if _, err := s.Apply(uint64(records+1), req); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
				applyNs += mid.Sub(start).Nanoseconds()
				commitNs += time.Since(mid).Nanoseconds()
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(applyNs)/float64(b.N)/1e6, "apply-ms")
			b.ReportMetric(float64(commitNs)/float64(b.N)/1e6, "commit-ms")
		})
	}
}
