package lossyfs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// syncDelays holds the sync delays of directories of the mount: a disk
// stall, raised and lowered while processes run on the mount.
type syncDelays struct {
	mu    sync.Mutex
	byDir map[string]time.Duration // clean relative paths, "." for the root
	// changed is closed and replaced on every change, so that syncs
	// waiting on the old delay look again.
	changed chan struct{}

	delayed atomic.Uint64
	total   atomic.Int64 // nanoseconds
	held    atomic.Int64 // syncs waiting now
}

func newSyncDelays() syncDelays {
	return syncDelays{byDir: map[string]time.Duration{}, changed: make(chan struct{})}
}

// SetSyncDelay makes every fsync and fdatasync of a file or directory
// under dir (relative to the mount's root; "" or "." for all of it) take
// at least d longer, from now on, whatever the file system's mode; d = 0
// removes the delay. When several directories with delays contain a file,
// the innermost one's applies. A sync already waiting when the delay
// changes waits for the new delay, counted from its start, so lowering a
// delay releases the syncs it held, as a disk that recovers completes its
// queue.
func (s *FS) SetSyncDelay(dir string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: sync delay %v is negative", ErrOptions, d)
	}
	rel := filepath.Clean(dir)
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%w: sync delay directory %q is not inside the mount", ErrOptions, dir)
	}
	sd := &s.delays
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if d == 0 {
		delete(sd.byDir, rel)
	} else {
		sd.byDir[rel] = d
	}
	close(sd.changed)
	sd.changed = make(chan struct{})
	return nil
}

// lookup returns the delay of the path rel (the innermost directory with
// one) and the channel that is closed on the next change.
func (sd *syncDelays) lookup(rel string) (time.Duration, <-chan struct{}) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if len(sd.byDir) == 0 {
		return 0, sd.changed
	}
	for p := rel; ; p = filepath.Dir(p) {
		if d, ok := sd.byDir[p]; ok {
			return d, sd.changed
		}
		if p == "." || p == "/" {
			return 0, sd.changed
		}
	}
}

// wait holds a sync of rel for its delay, or until ctx ends (the caller
// gave up on the sync).
func (sd *syncDelays) wait(ctx context.Context, rel string) {
	start := time.Now()
	held := false
	defer func() {
		if held {
			sd.held.Add(-1)
			sd.delayed.Add(1)
			sd.total.Add(int64(time.Since(start)))
		}
	}()
	for {
		d, changed := sd.lookup(rel)
		wait := time.Until(start.Add(d))
		if wait <= 0 {
			return
		}
		if !held {
			held = true
			sd.held.Add(1)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			return
		case <-changed:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
