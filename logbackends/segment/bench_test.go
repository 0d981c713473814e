package segment

import (
	"fmt"
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

// BenchmarkOpen measures replaying a log whose one segment is preallocated
// at etcd's 64 MiB and holds a few thousand entries: what a member pays at
// every start.
func BenchmarkOpen(b *testing.B) {
	for _, tt := range []struct {
		name string
		fs   func(b *testing.B) (vfs.FS, string)
	}{
		{name: "fs=os", fs: func(b *testing.B) (vfs.FS, string) { return vfs.OS{}, b.TempDir() }},
		{name: "fs=mem", fs: func(*testing.B) (vfs.FS, string) { return vfs.NewMem(), "/log" }},
	} {
		for _, n := range []uint64{0, 4096} {
			b.Run(fmt.Sprintf("%s/entries=%d/segment=64MiB", tt.name, n), func(b *testing.B) {
				fsys, d := tt.fs(b)
				opts := Options{FS: fsys, Dir: d, SegmentSize: DefaultSegmentSize}
				l, _, err := Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				for lo := uint64(1); lo <= n; lo += 64 {
					if err := l.AppendEntries(ents(lo, lo+63, 1, 256)); err != nil {
						b.Fatal(err)
					}
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					l, st, err := Open(opts)
					if err != nil {
						b.Fatal(err)
					}
					if st.LastIndex() != n {
						b.Fatalf("replayed up to %d, want %d", st.LastIndex(), n)
					}
					if err := l.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
