package filelog

import (
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// Group is a Backend with group commit: Saves from several goroutines are
// appended one after another under the writer lock and share fdatasyncs.
// It implements logbackends.ConcurrentSaver.
//
// A Save that needs a sync and finds no sync being led leads the next one:
// it waits out the window without the lock, so that other Saves can append
// behind it, then syncs once for every Save appended so far and wakes them.
// The sync itself holds the writer lock, because segment.Log has one
// writer and a segment switch closes the file a sync would be running on;
// Saves that arrive during a sync queue on the lock and form the next
// group, so the window only adds to what the length of a sync gathers.
type Group struct {
	*Backend
}

var _ logbackends.ConcurrentSaver = (*Group)(nil)

// OpenGroup opens the log as Open does, with group commit over window
// (which should be above zero: at zero a leader syncs at once, and only
// Saves that queued during the previous sync share it). Every Save is
// written as batched writes a Ready: snapshot, entries and HardState in one
// write call; the fdatasync is the group's.
func OpenGroup(name string, env logbackends.Env, segmentSize int64, window time.Duration) (*Group, error) {
	b, err := Open(name, env, segmentSize, nil)
	if err != nil {
		return nil, err
	}
	b.window = window
	b.waitSync.L = &b.mu
	return &Group{Backend: b}, nil
}

// noWait is the wait of a Save that needs no sync.
func noWait() error { return nil }

// Save implements logbackends.Backend: StartSave, then wait. It may be
// called concurrently with other Saves.
func (g *Group) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) error {
	wait, err := g.StartSave(hs, ents, snap, mustSync)
	if err != nil {
		return err
	}
	return wait()
}

// StartSave implements logbackends.ConcurrentSaver. A Save that installs a
// snapshot syncs before it returns, covering every Save appended before it
// (there are none waiting: ErrConcurrentSave keeps it so); a Save with
// mustSync false is written and not waited for, as in batched.
func (g *Group) StartSave(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, mustSync bool) (func() error, error) {
	if g.closed.Load() {
		return nil, logbackends.ErrClosed
	}
	g.saves.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	install := !raft.IsEmptySnap(snap)
	if err := g.checkConcurrent(ents, install); err != nil {
		return nil, err
	}
	if err := g.m.CheckSave(ents, snap); err != nil {
		return nil, err
	}
	if err := g.append(hs, ents, snap, install); err != nil {
		return nil, fmt.Errorf("%s: save: %w", g.name, err)
	}
	if err := g.m.ApplySave(hs, ents, snap); err != nil {
		return nil, fmt.Errorf("%s: save: %w", g.name, err)
	}
	g.entries.Add(uint64(len(ents)))
	if !mustSync || install {
		return noWait, nil
	}
	g.appended++
	ticket := g.appended
	return func() error { return g.waitFor(ticket) }, nil
}

// checkConcurrent refuses what would rewrite records other Saves are
// waiting to have acknowledged: an overwrite or a snapshot install.
func (g *Group) checkConcurrent(ents []*raftpb.Entry, install bool) error {
	if g.appended == g.synced {
		return nil
	}
	if install {
		return fmt.Errorf("%s: install snapshot with %d saves waiting for a sync: %w", g.name, g.appended-g.synced, logbackends.ErrConcurrentSave)
	}
	if len(ents) == 0 {
		return nil
	}
	if last, _ := g.m.LastIndex(); ents[0].GetIndex() <= last {
		return fmt.Errorf("%s: entry %d overwrites the log (last index %d) with %d saves waiting for a sync: %w",
			g.name, ents[0].GetIndex(), last, g.appended-g.synced, logbackends.ErrConcurrentSave)
	}
	return nil
}

// append writes one Save's records with one write call; an installed
// snapshot is synced at once, as batched does.
func (g *Group) append(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot, install bool) error {
	if install {
		if err := g.log.AppendSnapshot(snap, true); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	if err := g.log.AppendEntries(ents); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		if err := g.log.AppendHardState(hs); err != nil {
			return fmt.Errorf("hard state: %w", err)
		}
	}
	if install {
		return g.syncLocked()
	}
	return g.log.Flush()
}

// waitFor returns once a sync covers ticket, leading that sync if no other
// Save is.
func (g *Group) waitFor(ticket uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		switch {
		case g.synced >= ticket:
			return nil
		case g.syncErr != nil:
			return g.syncErr
		case g.leading:
			g.waitSync.Wait()
			continue
		}
		g.leading = true
		if g.window > 0 {
			g.mu.Unlock()
			time.Sleep(g.window)
			g.mu.Lock()
		}
		target := g.appended
		if err := g.log.Sync(); err != nil {
			g.syncErr = fmt.Errorf("%s: save: %w", g.name, err)
		} else {
			g.synced = max(g.synced, target)
		}
		g.leading = false
		g.waitSync.Broadcast()
	}
}
