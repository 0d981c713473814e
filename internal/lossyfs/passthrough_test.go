package lossyfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLossyPassThroughOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"pass-through", Options{PassThrough: true}, true},
		{"pass-through with backing syncs", Options{PassThrough: true, SyncBacking: true}, true},
		{"pass-through under the strict namespace model", Options{PassThrough: true, Namespace: NamespaceDirSync}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrOptions) {
				t.Fatalf("Validate: %v, want ErrOptions", err)
			}
		})
	}
}

// TestLossyPassThrough checks that in pass-through nothing waits for a
// sync: the backing file holds every write, truncate and allocation at
// once, and a power cut drops nothing.
func TestLossyPassThrough(t *testing.T) {
	m := mountFS(t, Options{PassThrough: true, SyncBacking: true})
	o := fileOps{t: t, m: m}
	f := o.open("log", os.O_CREATE|os.O_RDWR)
	o.writeAt(f, "hello, world", 0)
	backing := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(m.backing, "log"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := backing(); got != "hello, world" {
		t.Fatalf("backing file before any sync = %q, want the write", got)
	}
	o.truncate(f, 5)
	if got := backing(); got != "hello" {
		t.Fatalf("backing file after truncate = %q, want %q", got, "hello")
	}
	o.fallocate(f, 8)
	if got := backing(); got != "hello\x00\x00\x00" {
		t.Fatalf("backing file after fallocate = %q", got)
	}
	o.fdatasync(f)
	o.writeAt(f, "!", 8)
	f.Close()
	cs := m.cut(t)
	if cs != (CutStats{}) {
		t.Errorf("cut in pass-through dropped %+v, want nothing", cs)
	}
	if got, _ := o.content("log"); string(got) != "hello\x00\x00\x00!" {
		t.Fatalf("after the cut the file reads %q, want every write", got)
	}
	if st := m.fs.Stats(); st.Syncs != 1 || st.BytesDropped != 0 {
		t.Errorf("stats %+v, want 1 sync and nothing dropped", st)
	}
}

// TestLossySyncDelay checks that a sync delay holds syncs under its
// directory only, in both modes, and that lowering it releases a sync it
// holds.
func TestLossySyncDelay(t *testing.T) {
	for _, opts := range []Options{{}, {PassThrough: true}} {
		name := "lossy"
		if opts.PassThrough {
			name = "pass-through"
		}
		t.Run(name, func(t *testing.T) {
			m := mountFS(t, opts)
			o := fileOps{t: t, m: m}
			for _, dir := range []string{"slow", "slow/inner", "fast"} {
				if err := os.Mkdir(m.path(dir), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			slow := o.open("slow/inner/wal", os.O_CREATE|os.O_RDWR)
			defer slow.Close()
			fast := o.open("fast/wal", os.O_CREATE|os.O_RDWR)
			defer fast.Close()
			// A sibling whose name starts like the stalled directory's.
			sibling := o.open("slow.log", os.O_CREATE|os.O_RDWR)
			defer sibling.Close()

			const d = 50 * time.Millisecond
			if err := m.fs.SetSyncDelay("slow", d); err != nil {
				t.Fatal(err)
			}
			o.writeAt(fast, "x", 0)
			o.fdatasync(fast)
			o.writeAt(sibling, "x", 0)
			o.fdatasync(sibling)
			if st := m.fs.Stats(); st.SyncsDelayed != 0 {
				t.Fatalf("%d syncs outside the stalled directory were delayed", st.SyncsDelayed)
			}
			o.writeAt(slow, "x", 0)
			start := time.Now()
			o.fdatasync(slow)
			if took := time.Since(start); took < d {
				t.Fatalf("a sync under a %v delay took %v", d, took)
			}
			if st := m.fs.Stats(); st.SyncsDelayed != 1 || st.SyncDelay < d {
				t.Fatalf("stats %+v, want one sync delayed by at least %v", st, d)
			}

			// A stall far longer than the test, ended while a sync waits
			// in it.
			if err := m.fs.SetSyncDelay("slow/inner", time.Hour); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- slow.Sync() }()
			deadline := time.Now().Add(10 * time.Second)
			for m.fs.Stats().SyncsHeld != 1 {
				if time.Now().After(deadline) {
					t.Fatal("the sync never reached the delay")
				}
				time.Sleep(time.Millisecond) // polling, not timing
			}
			if err := m.fs.SetSyncDelay("slow/inner", 0); err != nil {
				t.Fatal(err)
			}
			if err := m.fs.SetSyncDelay("slow", 0); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("ending the stall did not release the sync it held")
			}
			if st := m.fs.Stats(); st.SyncsHeld != 0 || st.SyncsDelayed != 2 {
				t.Fatalf("stats %+v, want two syncs delayed and none held", st)
			}
			if !opts.PassThrough {
				// The model is untouched: the synced byte survives a cut,
				// the unsynced one does not.
				o.writeAt(fast, "y", 1)
				for _, f := range []*os.File{slow, fast, sibling} {
					f.Close()
				}
				m.cut(t)
				if got, _ := o.content("fast/wal"); string(got) != "x" {
					t.Fatalf("after the cut fast/wal reads %q, want only the synced byte", got)
				}
			}
		})
	}
}

func TestLossySetSyncDelayInvalid(t *testing.T) {
	s, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		d    time.Duration
	}{
		{"negative", "m0", -time.Millisecond},
		{"outside", "../m0", time.Millisecond},
		{"absolute", "/m0", time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetSyncDelay(tc.dir, tc.d); !errors.Is(err, ErrOptions) {
				t.Fatalf("SetSyncDelay(%q, %v): %v, want ErrOptions", tc.dir, tc.d, err)
			}
		})
	}
}
