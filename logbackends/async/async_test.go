package async

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.SyncedWindow, Segments: true,
		Open: func(env logbackends.Env, p conformance.Params) (logbackends.Backend, error) {
			return Open(env, Config{SegmentSize: p.SegmentSize, SyncInterval: p.SyncInterval})
		}})
}

func TestBadSyncIntervalRejected(t *testing.T) {
	for _, interval := range []time.Duration{-time.Second, 0} {
		cfg := DefaultConfig()
		cfg.SyncInterval = interval
		_, err := Open(logbackends.Env{Dir: "/log", FS: vfs.NewMem()}, cfg)
		if !errors.Is(err, logbackends.ErrBadConfig) || !strings.Contains(err.Error(), "--async-sync-interval") {
			t.Fatalf("Open with interval %v = %v, want ErrBadConfig naming --async-sync-interval", interval, err)
		}
	}
}

// TestSaveDoesNotSync checks the unsafe half of the promise: with an
// interval too long to fire, Saves make no sync at all (what makes them
// cheap and what a crash loses), and Close syncs them.
func TestSaveDoesNotSync(t *testing.T) {
	fsys := vfs.NewMem()
	env := logbackends.Env{Dir: "/log", FS: fsys}
	cfg := Config{SegmentSize: 1 << 20, SyncInterval: time.Hour}
	b, err := Open(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := b.Stats().Syncs
	hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(5))}
	if err := b.Save(hs, conformance.Entries(1, 5, 1), nil, true); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().Syncs - before; got != 0 {
		t.Fatalf("Save made %d syncs, want none", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(b.Close(), logbackends.ErrClosed) {
		t.Fatal("second Close did not report ErrClosed")
	}
	env.FS = fsys.CrashClone(rand.New(rand.NewSource(1)), 0)
	r, err := Open(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if last, _ := r.LastIndex(); last != 5 {
		t.Fatalf("after Close and a crash the log ends at %d, want 5", last)
	}
}

// TestBackgroundSyncsAreCounted waits (polling, with a deadline) for the
// background goroutine to make an unsynced Save durable, and checks the
// sync shows in Stats.
func TestBackgroundSyncsAreCounted(t *testing.T) {
	b, err := Open(logbackends.Env{Dir: "/log", FS: vfs.NewMem()}, Config{SegmentSize: 1 << 20, SyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before := b.Stats().Syncs
	if err := b.Save(nil, conformance.Entries(1, 3, 1), nil, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Syncs == before {
		if time.Now().After(deadline) {
			t.Fatal("no background sync within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	st := b.Stats()
	if st.SyncLatency.Count != st.Syncs || st.Backend != Name {
		t.Fatalf("Stats = %+v", st)
	}
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, NewEntry(DefaultConfig()).Open) }
