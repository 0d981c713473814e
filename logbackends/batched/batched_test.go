package batched

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// testWindow is the group-commit window the tests run with: short, so the
// conformance suite's single-writer load stays quick.
const testWindow = 100 * time.Microsecond

// testEnv is an empty log directory on an in-memory file system.
func testEnv() logbackends.Env { return logbackends.Env{Dir: "/log", FS: vfs.NewMem()} }

func TestConformance(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
	}{
		{"window=0", 0},
		{"window=100us", testWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.CrashSafe, Segments: true,
				Open: func(env logbackends.Env, p conformance.Params) (logbackends.Backend, error) {
					return Open(env, Config{SegmentSize: p.SegmentSize, GroupCommitWindow: tt.window})
				}})
		})
	}
}

func openMem(t *testing.T, window time.Duration) logbackends.Backend {
	t.Helper()
	b, err := Open(testEnv(), Config{SegmentSize: 1 << 20, GroupCommitWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConcurrentSaverOnlyWithAWindow(t *testing.T) {
	if _, ok := openMem(t, 0).(logbackends.ConcurrentSaver); ok {
		t.Error("window 0 offers concurrent Saves; its Saves must stay etcd's one sync each")
	}
	if _, ok := openMem(t, testWindow).(logbackends.ConcurrentSaver); !ok {
		t.Error("a window above 0 does not offer concurrent Saves")
	}
	cfg := DefaultConfig()
	cfg.GroupCommitWindow = -time.Millisecond
	if _, err := Open(testEnv(), cfg); !errors.Is(err, logbackends.ErrBadConfig) {
		t.Errorf("Open with a negative window = %v, want ErrBadConfig", err)
	}
}

// TestSavesShareOneSync appends ten Saves before any waits: the first wait
// leads one sync that acknowledges all of them.
func TestSavesShareOneSync(t *testing.T) {
	b := openMem(t, testWindow)
	cs := b.(logbackends.ConcurrentSaver)
	before := b.Stats()
	var waits []func() error
	for i := uint64(1); i <= 10; i++ {
		wait, err := cs.StartSave(conformance.HardState(1, i-1), conformance.Entries(i, i, 1), nil, true)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	for k, wait := range waits {
		if err := wait(); err != nil {
			t.Fatalf("wait %d: %v", k, err)
		}
	}
	after := b.Stats()
	if syncs := after.Syncs - before.Syncs; syncs != 1 {
		t.Errorf("ten Saves took %d syncs, want 1", syncs)
	}
	if n := after.EntriesSaved - before.EntriesSaved; n != 10 {
		t.Errorf("EntriesSaved grew by %d, want 10", n)
	}
}

// TestConcurrentSaveRules checks what a Save may do while another waits
// for its sync (entries 1..5 appended, not yet synced).
func TestConcurrentSaveRules(t *testing.T) {
	snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(9)), Term: new(uint64(1)),
		ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}
	tests := []struct {
		name string
		ents []*raftpb.Entry
		snap *raftpb.Snapshot
		want error
	}{
		{"continue the log", conformance.Entries(6, 8, 1), nil, nil},
		{"hard state only", nil, nil, nil},
		{"overwrite a waiting save's entries", conformance.Entries(4, 6, 1), nil, logbackends.ErrConcurrentSave},
		{"install a snapshot", nil, snap, logbackends.ErrConcurrentSave},
		{"leave a gap", conformance.Entries(7, 8, 1), nil, logbackends.ErrLogGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openMem(t, testWindow)
			cs := b.(logbackends.ConcurrentSaver)
			wait, err := cs.StartSave(conformance.HardState(1, 0), conformance.Entries(1, 5, 1), nil, true)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Save(conformance.HardState(1, 5), tt.ents, tt.snap, true)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Save = %v, want %v", err, tt.want)
			}
			if err := wait(); err != nil {
				t.Fatalf("the waiting save: %v", err)
			}
			wantLast := uint64(5)
			if tt.want == nil && len(tt.ents) > 0 {
				wantLast = tt.ents[len(tt.ents)-1].GetIndex()
			}
			if last, _ := b.LastIndex(); last != wantLast {
				t.Errorf("last index %d, want %d", last, wantLast)
			}
			// Once nothing waits, a single writer's overwrite is allowed again.
			if err := b.Save(conformance.HardState(1, 3), conformance.Entries(4, 4, 1), nil, true); err != nil {
				t.Errorf("overwrite with nothing waiting: %v", err)
			}
		})
	}
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, NewEntry(DefaultConfig()).Open) }

// BenchmarkSaveConcurrent runs window 0 (etcd's one sync per Save: Saves
// may not overlap, so the writers take turns), 100µs (a fraction of a
// datacenter SSD's fdatasync, so the wait costs little next to the sync it
// saves) and 1ms (about one SATA SSD fdatasync: larger groups, at the cost
// of a millisecond on every Save's latency).
func BenchmarkSaveConcurrent(b *testing.B) {
	for _, w := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond} {
		cfg := DefaultConfig()
		cfg.GroupCommitWindow = w
		benchsuite.SaveConcurrent(b, fmt.Sprintf("backend=%s/window=%v", Name, w), NewEntry(cfg).Open)
	}
}
