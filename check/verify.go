package check

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// pollInterval is how often the checks after the run ask again.
const pollInterval = 50 * time.Millisecond

// MissingWrite is an acknowledged write a member does not have at its
// revision.
type MissingWrite struct {
	Member   string `json:"member"`
	Key      string `json:"key"`
	Value    string `json:"value"`
	Revision int64  `json:"revision"`
	// Found is what the member holds for the key at that revision ("" for
	// nothing), or the error it answered.
	Found string `json:"found"`
}

// AckedCheck says whether every acknowledged write is still there, on
// every member.
type AckedCheck struct {
	// Writes is the number of acknowledged writes; Members how many
	// members were read.
	Writes  int `json:"writes"`
	Members int `json:"members"`
	// Missing lists up to maxMissing writes a member did not have;
	// MissingCount counts them all.
	Missing      []MissingWrite `json:"missing,omitempty"`
	MissingCount int            `json:"missing_count"`
	Error        string         `json:"error,omitempty"`
}

const maxMissing = 20

// OK reports whether every member has every acknowledged write.
func (a AckedCheck) OK() bool { return a.MissingCount == 0 && a.Error == "" }

func (a AckedCheck) String() string {
	switch {
	case a.Error != "":
		return fmt.Sprintf("%d, NOT CHECKED: %s", a.Writes, a.Error)
	case a.MissingCount > 0:
		return fmt.Sprintf("%d, %d MISSING (on %d members; the first: %+v)", a.Writes, a.MissingCount, a.Members, a.Missing[0])
	}
	return fmt.Sprintf("%d, every one present on all %d members at its revision", a.Writes, a.Members)
}

// waitMembersHealthy polls until every member answers a status request
// and a linearizable read through its own connection, and all name the
// same leader.
func waitMembersHealthy(ctx context.Context, clis []*clientv3.Client, eps []string) error {
	var last error
	for {
		last = membersHealthy(ctx, clis, eps)
		if last == nil {
			return nil
		}
		if !sleep(ctx, pollInterval) {
			return fmt.Errorf("%w: members not healthy: %w (last: %v)", ErrCluster, ctx.Err(), last)
		}
	}
}

func membersHealthy(ctx context.Context, clis []*clientv3.Client, eps []string) error {
	var leader uint64
	for i, cli := range clis {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(actx, eps[i])
		if err == nil {
			_, err = cli.Get(actx, "lin/health")
		}
		cancel()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", memberName(i), err)
		case st.Leader == 0:
			return fmt.Errorf("%s has no leader", memberName(i))
		case leader != 0 && st.Leader != leader:
			return fmt.Errorf("%s names leader %x, another member %x", memberName(i), st.Leader, leader)
		}
		leader = st.Leader
	}
	return nil
}

// finalReads reads every key linearizably through every member, after
// the run, as ops of a client of their own each; the history then also
// says that every member ends in the state the writes left.
func finalReads(ctx context.Context, clis []*clientv3.Client, keys int, start time.Time, client int) ([]Op, error) {
	var ops []Op
	for i, cli := range clis {
		for k := range keys {
			op := Op{Client: client + i, Worker: -1, Member: i, Kind: OpGet, Key: keyName(k)}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			op.Call = time.Since(start).Nanoseconds()
			resp, err := cli.Get(rctx, op.Key)
			op.Return = time.Since(start).Nanoseconds()
			cancel()
			if err != nil {
				return ops, fmt.Errorf("%w: final read of %s through %s: %w", ErrCluster, op.Key, memberName(i), err)
			}
			op.Status = StatusOK
			if len(resp.Kvs) > 0 {
				op.Output = string(resp.Kvs[0].Value)
			}
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// checkAcked reads every acknowledged write back from every member, at
// its revision (MVCC keeps every revision until a compaction, which
// nothing here asks for): the value must be the one written, last
// modified at that revision. Each member is first given until ctx ends
// to apply the highest acknowledged revision; the reads are serializable,
// so each member answers from its own state.
func checkAcked(ctx context.Context, clis []*clientv3.Client, ops []Op) AckedCheck {
	var writes []Op
	var top int64
	for _, o := range ops {
		if o.wrote() {
			writes = append(writes, o)
			top = max(top, o.Revision)
		}
	}
	a := AckedCheck{Writes: len(writes), Members: len(clis)}
	for i, cli := range clis {
		if err := waitRevision(ctx, cli, top); err != nil {
			a.Error = fmt.Sprintf("%s: %v", memberName(i), err)
			return a
		}
		for _, w := range writes {
			found, ok := readAt(ctx, cli, w)
			if ok {
				continue
			}
			a.MissingCount++
			if len(a.Missing) < maxMissing {
				a.Missing = append(a.Missing, MissingWrite{Member: memberName(i), Key: w.Key, Value: w.Value, Revision: w.Revision, Found: found})
			}
		}
	}
	return a
}

// waitRevision polls a member until it has applied revision rev.
func waitRevision(ctx context.Context, cli *clientv3.Client, rev int64) error {
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Get(rctx, "lin/health", clientv3.WithSerializable())
		cancel()
		if err == nil && resp.Header.Revision >= rev {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("at revision %d", resp.Header.Revision)
		}
		last = err
		if !sleep(ctx, pollInterval) {
			return fmt.Errorf("did not reach revision %d: %v", rev, last)
		}
	}
}

// readAt reads w's key at w's revision from one member; it returns what
// it found when that is not w.
func readAt(ctx context.Context, cli *clientv3.Client, w Op) (string, bool) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cli.Get(rctx, w.Key, clientv3.WithRev(w.Revision), clientv3.WithSerializable())
	switch {
	case err != nil:
		return "error: " + err.Error(), false
	case len(resp.Kvs) == 0:
		return "", false
	}
	kv := resp.Kvs[0]
	if string(kv.Value) != w.Value || kv.ModRevision != w.Revision {
		return fmt.Sprintf("%q at mod revision %d", kv.Value, kv.ModRevision), false
	}
	return "", true
}
