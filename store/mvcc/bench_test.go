package mvcc

import (
	"fmt"
	"path/filepath"
	"testing"

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
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Range(&pb.RangeRequest{Key: []byte(fmt.Sprintf("key-%08d", i%keys))}); err != nil {
			b.Fatal(err)
		}
	}
}
