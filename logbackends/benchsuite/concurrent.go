package benchsuite

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// writerCounts is the grid SaveConcurrent runs; concurrentEntrySize is the
// one entry size it uses (a small proposal, where the sync dominates).
var writerCounts = []int{1, 4, 16, 64}

const concurrentEntrySize = 256

// SaveConcurrent benchmarks Saves of one 256-byte entry each from 1, 4, 16
// and 64 writers at once on the backend open opens, in a fresh directory
// for each. The sub-benchmarks are LABEL/writers=N/entry=256, where label
// names the backend and any setting it was opened with that differs from
// its defaults, in benchstat's key=value form: "backend=fsync",
// "backend=batched/window=100µs".
//
// Raft's indexes are one sequence, so the writers draw theirs from one
// counter, and a Save must reach the backend in the order of its indexes.
// A backend that implements logbackends.ConcurrentSaver gets that order
// from StartSave inside the writers' shared critical section, and each
// writer waits for its sync outside it, so syncs can be shared. Any other
// backend has Saves that must not overlap, so its whole Save is inside the
// critical section: its writers take turns and its throughput cannot grow
// with their number, which is what the comparison shows.
//
// Besides ns/op (per Save, across all writers) each reports entries/s,
// entries/sync (EntriesSaved/Syncs over the run) and p99-ns, the latency a
// writer saw from wanting to save to the acknowledgement, turn included.
func SaveConcurrent(b *testing.B, label string, open logbackends.Opener) {
	for _, writers := range writerCounts {
		b.Run(fmt.Sprintf("%s/writers=%d/entry=%d", label, writers, concurrentEntrySize), func(b *testing.B) {
			saveConcurrent(b, open, writers, concurrentEntrySize)
		})
	}
}

func saveConcurrent(b *testing.B, open logbackends.Opener, writers, size int) {
	be, err := open(logbackends.Env{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := be.Close(); err != nil {
			b.Error(err)
		}
	}()
	cs, concurrent := be.(logbackends.ConcurrentSaver)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	typ := raftpb.EntryNormal
	term := uint64(1)

	var (
		turn sync.Mutex // draws the next index and starts the Save in index order
		next = uint64(1)
		ops  atomic.Int64
	)
	// save is one writer's Save of the next entry.
	save := func() error {
		turn.Lock()
		i := next
		next++
		ents := []*raftpb.Entry{{Index: new(i), Term: &term, Type: &typ, Data: data}}
		hs := &raftpb.HardState{Term: &term, Vote: new(uint64(1)), Commit: new(i - 1)}
		if !concurrent {
			defer turn.Unlock()
			return be.Save(hs, ents, nil, true)
		}
		wait, err := cs.StartSave(hs, ents, nil, true)
		turn.Unlock()
		if err != nil {
			return err
		}
		return wait()
	}

	hists := make([]*hdrhistogram.Histogram, writers)
	for w := range hists {
		hists[w] = hdrhistogram.New(1, int64(time.Minute), 3)
	}
	start := be.Stats()
	b.SetBytes(int64(size))
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for ops.Add(1) <= int64(b.N) {
				s := time.Now()
				if err := save(); err != nil {
					b.Error(err)
					return
				}
				hists[w].RecordValue(int64(time.Since(s)))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	end := be.Stats()
	for _, h := range hists[1:] {
		hists[0].Merge(h)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	if syncs := end.Syncs - start.Syncs; syncs > 0 {
		b.ReportMetric(float64(end.EntriesSaved-start.EntriesSaved)/float64(syncs), "entries/sync")
	}
	b.ReportMetric(float64(hists[0].ValueAtQuantile(99)), "p99-ns")
}
