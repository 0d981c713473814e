package async

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/internal/filelog"
	"github.com/adrbench/adrbench/logbackends/segment"
)

// Backend is the file-log core with no sync on the Save path and a
// goroutine that syncs on an interval. It is UNSAFE; see the package doc.
type Backend struct {
	*filelog.Backend
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu    sync.Mutex
	bgErr error // the background sync's first failure
}

var _ logbackends.Backend = (*Backend)(nil)

// Open opens the log in env.Dir, replaying it, or creates an empty one,
// and starts the background sync.
func Open(env logbackends.Env, cfg Config) (logbackends.Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	core, err := filelog.Open(Name, env, cfg.SegmentSize, write)
	if err != nil {
		return nil, err
	}
	b := &Backend{Backend: core, interval: cfg.SyncInterval, stop: make(chan struct{}), done: make(chan struct{})}
	go b.syncLoop()
	return b, nil
}

// write is the unsafe policy: everything in one write call and no sync,
// except when a snapshot is installed (rare, and replay must find it whole
// before the entries that follow it).
func write(l *segment.Log, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, _ bool) error {
	install, err := filelog.AppendReady(l, hs, ents, snap)
	if err != nil {
		return err
	}
	if install {
		return l.Sync()
	}
	return l.Flush()
}

// syncLoop syncs every interval until Close. After a failed sync the log
// refuses further writes (segment.Log stops on an I/O error), so Saves
// report it; the loop keeps the error for Close and stops.
func (b *Backend) syncLoop() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if err := b.SyncNow(); err != nil {
				if !errors.Is(err, logbackends.ErrClosed) {
					b.mu.Lock()
					b.bgErr = err
					b.mu.Unlock()
				}
				return
			}
		}
	}
}

// Close stops the background sync, then syncs and closes the log.
func (b *Backend) Close() error {
	select {
	case <-b.stop:
		return logbackends.ErrClosed
	default:
	}
	close(b.stop)
	<-b.done
	err := b.Backend.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bgErr != nil {
		return errors.Join(fmt.Errorf("async: background sync: %w", b.bgErr), err)
	}
	return err
}
