package adrlog

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
)

// benchOpen opens adr with its emulated region in the benchmark's
// temporary directory (not the default on tmpfs, which is named after the
// data directory and would outlive the benchmark).
func benchOpen(env logbackends.Env) (logbackends.Backend, error) {
	cfg := DefaultConfig()
	cfg.Region = adr.RegionConfig{Kind: adr.KindEmulated, Path: filepath.Join(env.Dir, "region"), Size: adr.DefaultRegionSize}
	return Open(env, cfg)
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, benchOpen) }

// BenchmarkSaveLatency puts adr and batched side by side in one run: a
// single writer saving one 256-byte entry per Save, p50 and p99 of the
// Save latency reported, so that their ratio comes from the same machine
// at the same time.
func BenchmarkSaveLatency(b *testing.B) {
	backends := []struct {
		name string
		open logbackends.Opener
	}{
		{Name, benchOpen},
		{batched.Name, batched.NewEntry(batched.DefaultConfig()).Open},
	}
	for _, be := range backends {
		for _, batch := range []int{1, 16} {
			b.Run(fmt.Sprintf("backend=%s/entry=256/batch=%d", be.name, batch), func(b *testing.B) {
				benchsuite.SaveOne(b, be.open, 256, batch)
			})
		}
	}
}

// BenchmarkDrain measures the drainer alone: Saves are published to the
// ring as fast as they come and the clock runs until the drainer has
// written, synced and released all of them.
func BenchmarkDrain(b *testing.B) {
	for _, size := range []int{256, 4096} {
		b.Run(fmt.Sprintf("backend=%s/entry=%d", Name, size), func(b *testing.B) {
			be, err := benchOpen(logbackends.Env{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			ab := be.(*Backend)
			data := make([]byte, size)
			typ, term := raftpb.EntryNormal, uint64(1)
			start := ab.Stats()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				e := &raftpb.Entry{Index: new(uint64(i)), Term: &term, Type: &typ, Data: data}
				if err := be.Save(nil, []*raftpb.Entry{e}, nil, true); err != nil {
					b.Fatal(err)
				}
			}
			ab.mu.Lock()
			err = ab.d.quiesce()
			ab.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := ab.Stats()
			perOp := func(name string) float64 {
				return float64(counter(st, name)-counter(start, name)) / float64(b.N)
			}
			b.ReportMetric(perOp(CounterDiskSyncs), "disksyncs/op")
			b.ReportMetric(perOp(CounterRingFullWaits), "fullwaits/op")
			if err := be.Close(); err != nil {
				b.Error(err)
			}
		})
	}
}
