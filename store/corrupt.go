package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/adrbench/adrbench/store/mvcc"
)

// corruptionChecker compares this member's key space with the other
// members' at one revision (mvcc.Store.HashKV), as etcd's initial and
// periodic corruption checks do. Members at the same revision and
// compaction revision must have the same hash; one that does not has a
// database that differs from what the raft log says it should hold.
type corruptionChecker struct {
	id      uint64
	kv      *mvcc.Store
	members *members
	peers   *peerConns
	log     *slog.Logger
	// timeout bounds each question to a peer.
	timeout time.Duration
}

// peerHash is one peer's answer to HashKV, or why there is none.
type peerHash struct {
	id   uint64
	resp *pb.HashKVResponse
	err  error
}

// peerHashes asks every other member for its hash at rev, all at once.
func (c *corruptionChecker) peerHashes(ctx context.Context, rev int64) []peerHash {
	ids := c.members.ids()
	out := make([]peerHash, 0, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		if id == c.id {
			continue
		}
		wg.Go(func() {
			ph := peerHash{id: id}
			mc, err := c.peers.maintenance(id)
			if err == nil {
				qctx, cancel := context.WithTimeout(ctx, c.timeout)
				ph.resp, err = mc.HashKV(qctx, &pb.HashKVRequest{Revision: rev})
				cancel()
			}
			ph.err = err
			mu.Lock()
			out = append(out, ph)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// initialCheck compares the member's database, as it is before the member
// replays its log, with the peers that answer: a peer at the same
// compaction revision with another hash at this member's revision means
// one of the two holds data the log does not explain, and the member must
// not start (etcd's --experimental-initial-corrupt-check). Peers that do
// not answer, are behind, or compacted past this member's revision are
// logged and skipped.
func (c *corruptionChecker) initialCheck(ctx context.Context) error {
	local, err := c.kv.HashKV(0)
	if err != nil {
		return fmt.Errorf("initial corruption check: %w", err)
	}
	c.log.Info("initial corruption check", "revision", local.Revision, "compact-revision", local.Compact, "hash", local.Hash)
	var differ []string
	for _, p := range c.peerHashes(ctx, local.Revision) {
		switch {
		case p.err != nil:
			c.log.Warn("initial corruption check: cannot compare with a peer", "peer", fmt.Sprintf("%x", p.id), "revision", local.Revision, "err", describePeerErr(p.err))
		case p.resp.GetHash() == local.Hash:
		case p.resp.GetCompactRevision() != local.Compact:
			c.log.Warn("initial corruption check: a peer has another compaction revision, so the hashes do not compare",
				"peer", fmt.Sprintf("%x", p.id), "compact-revision", local.Compact, "peer-compact-revision", p.resp.GetCompactRevision())
		default:
			differ = append(differ, fmt.Sprintf("%x has hash %d", p.id, p.resp.GetHash()))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("%x %w: at revision %d (compaction revision %d) this member's hash is %d, %s",
			c.id, ErrCorruptData, local.Revision, local.Compact, local.Hash, strings.Join(differ, ", "))
	}
	c.log.Info("initial corruption check passed", "peers", len(c.members.ids())-1)
	return nil
}

func describePeerErr(err error) string {
	switch {
	case errors.Is(err, rpctypes.ErrGRPCFutureRev), errors.Is(err, rpctypes.ErrFutureRev):
		return "the peer is behind this member"
	case errors.Is(err, rpctypes.ErrGRPCCompacted), errors.Is(err, rpctypes.ErrCompacted):
		return "the peer compacted past this member's revision"
	}
	return err.Error()
}

// mismatch is a member the periodic check found out of line.
type mismatch struct {
	member uint64
	why    string
}

// periodicCheck is etcd's periodic corruption check, run by the leader:
// its hash now, every peer's at the same revision, a linearizable read
// (so that every peer's answer is at or below what the leader has
// applied), its hash again. A member is found out of line when the
// leader's own hash changed at an unchanged revision, when a peer is
// ahead of the leader's revision or compaction, or when a peer at the
// leader's compaction revision has another hash. It returns what it
// found; raising the alarm is the caller's.
func (c *corruptionChecker) periodicCheck(ctx context.Context, linearize func(context.Context) error) ([]mismatch, error) {
	h1, err := c.kv.HashKV(0)
	if err != nil {
		return nil, err
	}
	peers := c.peerHashes(ctx, h1.Revision)
	if err := linearize(ctx); err != nil {
		return nil, err
	}
	h2, err := c.kv.HashKV(0)
	if err != nil {
		return nil, err
	}
	var found []mismatch
	if h2.Hash != h1.Hash && h2.Revision == h1.Revision && h2.Compact == h1.Compact {
		found = append(found, mismatch{member: c.id, why: fmt.Sprintf("hash %d became %d at revision %d", h1.Hash, h2.Hash, h1.Revision)})
	}
	for _, p := range peers {
		if p.resp == nil {
			continue
		}
		switch {
		case p.resp.GetHeader().GetRevision() > h2.Current:
			found = append(found, mismatch{member: p.id, why: fmt.Sprintf("at revision %d, ahead of the leader's %d", p.resp.GetHeader().GetRevision(), h2.Current)})
		case p.resp.GetCompactRevision() > h2.Compact:
			found = append(found, mismatch{member: p.id, why: fmt.Sprintf("compacted at %d, ahead of the leader's %d", p.resp.GetCompactRevision(), h2.Compact)})
		case p.resp.GetCompactRevision() == h1.Compact && p.resp.GetHash() != h1.Hash:
			found = append(found, mismatch{member: p.id, why: fmt.Sprintf("hash %d at revision %d, the leader's is %d", p.resp.GetHash(), h1.Revision, h1.Hash)})
		}
	}
	return found, nil
}
