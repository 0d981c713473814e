package benchsuite

import (
	"fmt"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// entrySizes and batchSizes are the grid Save runs. 2300 bytes is the
// block size of the fio test etcd recommends for WAL disks, so fsync's
// entries/s at that size compares directly with fio's fdatasync IOPS.
var (
	entrySizes = []int{256, 2300, 4096}
	batchSizes = []int{1, 16, 128}
)

// Save benchmarks Save of every entry size and batch size on backend name,
// opened by open.
func Save(b *testing.B, name string, open logbackends.Opener) {
	for _, size := range entrySizes {
		for _, batch := range batchSizes {
			b.Run(fmt.Sprintf("backend=%s/entry=%d/batch=%d", name, size, batch), func(b *testing.B) {
				SaveOne(b, open, size, batch)
			})
		}
	}
}

// SaveOne benchmarks a single writer's Saves of batch entries of size
// bytes each, every Save with its HardState and synced, on a backend opened
// by open in a fresh directory on the real file system. It reports entries/s, syncs/op and the
// p50 and p99 of Save latency (p50-ns, p99-ns): Save runs it over a grid,
// and a backend's own benchmark can run it to put several backends side by
// side in one run.
func SaveOne(b *testing.B, open logbackends.Opener, size, batch int) {
	be, err := open(logbackends.Env{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := be.Close(); err != nil {
			b.Error(err)
		}
	}()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	hist := hdrhistogram.New(1, int64(time.Minute), 3)
	ents := make([]*raftpb.Entry, batch)
	typ := raftpb.EntryNormal
	term := uint64(1)
	next := uint64(1)
	startSyncs := be.Stats().Syncs
	b.SetBytes(int64(size * batch))
	b.ResetTimer()
	start := time.Now()
	for op := 0; op < b.N; op++ {
		// Entries are built per op (raft hands the backend fresh ones);
		// the payload is shared, as raft's entries share the proposal's.
		for k := range ents {
			ents[k] = &raftpb.Entry{Index: new(next), Term: &term, Type: &typ, Data: data}
			next++
		}
		hs := &raftpb.HardState{Term: &term, Vote: new(uint64(1)), Commit: new(next - 1)}
		t0 := time.Now()
		if err := be.Save(hs, ents, nil, true); err != nil {
			b.Fatal(err)
		}
		hist.RecordValue(int64(time.Since(t0)))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(be.Stats().Syncs-startSyncs)/float64(b.N), "syncs/op")
	b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-ns")
}
