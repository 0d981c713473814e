package segment

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// BenchmarkAppendEncode measures the encoding path alone: entries into the
// reused buffer, flushed with one write per batch to an in-memory file.
func BenchmarkAppendEncode(b *testing.B) {
	l, _, err := Open(Options{FS: vfs.NewMem(), Dir: "/log", SegmentSize: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	batch := ents(1, 16, 1, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.AppendEntries(batch); err != nil {
			b.Fatal(err)
		}
		if err := l.AppendHardState(&raftpb.HardState{Term: new(uint64(1))}); err != nil {
			b.Fatal(err)
		}
		if err := l.Flush(); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			b.StopTimer()
			l.Close()
			l, _, _ = Open(Options{FS: vfs.NewMem(), Dir: "/log", SegmentSize: 16 << 20})
			b.StartTimer()
		}
	}
}
