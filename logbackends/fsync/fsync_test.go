package fsync

import (
	"math/rand"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.CrashSafe, Segments: true,
		Open: func(env logbackends.Env, p conformance.Params) (logbackends.Backend, error) {
			return Open(env, Config{SegmentSize: p.SegmentSize})
		}})
}

// testConfig has segments larger than the tests' logs, so they stay in one.
var testConfig = Config{SegmentSize: 1 << 20}

func TestSyncsPerSave(t *testing.T) {
	tests := []struct {
		name      string
		ents      []*raftpb.Entry
		hs        *raftpb.HardState
		mustSync  bool
		wantSyncs uint64
	}{
		// The hard state rides with the last entry's sync.
		{"one entry and a hard state", conformance.Entries(1, 1, 1), conformance.HardState(1, 0), true, 1},
		{"five entries and a hard state", conformance.Entries(1, 5, 1), conformance.HardState(1, 0), true, 5},
		{"hard state alone", nil, conformance.HardState(1, 0), true, 1},
		{"entries without a hard state", conformance.Entries(1, 3, 1), nil, true, 3},
		{"commit-only hard state", nil, conformance.HardState(1, 0), false, 0},
		// The per-entry promise does not depend on raft's mustSync.
		{"entries with mustSync false", conformance.Entries(1, 2, 1), conformance.HardState(1, 0), false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(logbackends.Env{Dir: "/log", FS: vfs.NewMem()}, testConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			before := b.Stats().Syncs
			if err := b.Save(tt.hs, tt.ents, nil, tt.mustSync); err != nil {
				t.Fatal(err)
			}
			if got := b.Stats().Syncs - before; got != tt.wantSyncs {
				t.Fatalf("Save made %d syncs, want %d", got, tt.wantSyncs)
			}
		})
	}
}

// TestEachEntryDurableBeforeTheNext takes a crash clone at the start of
// every sync of one Save, keeping no unsynced bytes: at the start of the
// k-th sync exactly the entries before the k-th must be on stable storage.
func TestEachEntryDurableBeforeTheNext(t *testing.T) {
	fsys := vfs.NewMem()
	env := logbackends.Env{Dir: "/log", FS: fsys}
	b, err := Open(env, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var mu sync.Mutex
	var clones []*vfs.Mem
	fsys.SetSyncHook(func(string) {
		mu.Lock()
		defer mu.Unlock()
		clones = append(clones, fsys.CrashClone(rng, 0))
	})
	const n = 6
	if err := b.Save(conformance.HardState(1, n), conformance.Entries(1, n, 1), nil, true); err != nil {
		t.Fatal(err)
	}
	fsys.SetSyncHook(nil)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(clones) != n {
		t.Fatalf("%d syncs for %d entries and a hard state", len(clones), n)
	}
	for k, c := range clones {
		env.FS = c
		r, err := Open(env, testConfig)
		if err != nil {
			t.Fatalf("reopen clone %d: %v", k, err)
		}
		if last, _ := r.LastIndex(); last != uint64(k) {
			t.Errorf("at the start of sync %d the durable log ends at %d, want %d", k+1, last, k)
		}
		hs, _, _ := r.InitialState()
		if hs.GetCommit() != 0 {
			t.Errorf("at the start of sync %d the hard state %v is already durable", k+1, hs)
		}
		r.Close()
	}
	// After the last sync everything, hard state included, is durable.
	env.FS = fsys.CrashClone(rng, 0)
	r, err := Open(env, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if last, _ := r.LastIndex(); last != n {
		t.Errorf("after Save the durable log ends at %d, want %d", last, n)
	}
	if hs, _, _ := r.InitialState(); hs.GetCommit() != n {
		t.Errorf("after Save the durable hard state is %v, want commit %d", hs, n)
	}
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, NewEntry(DefaultConfig()).Open) }

func BenchmarkSaveConcurrent(b *testing.B) {
	benchsuite.SaveConcurrent(b, "backend="+Name, NewEntry(DefaultConfig()).Open)
}
