package mvcc

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/membershippb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/internal/latency"
)

// setMemberLocked records the attributes a member published. It changes no
// key, so it takes no revision. Caller holds txMu and mu.
func (s *Store) setMemberLocked(r *membershippb.ClusterMemberAttrSetRequest) (proto.Message, error) {
	v, err := proto.Marshal(r)
	if err != nil {
		return nil, err
	}
	k := binary.BigEndian.AppendUint64(nil, r.GetMember_ID())
	if err := s.membersB.Put(k, v); err != nil {
		return nil, s.fail(fmt.Errorf("%w: write member %x: %w", ErrBackend, r.GetMember_ID(), err))
	}
	s.pending++
	return &membershippb.ClusterMemberAttrSetRequest{}, nil
}

// Members returns the member attributes recorded up to the last commit. It
// is meant for start-up, when everything on disk is committed.
func (s *Store) Members() ([]*membershippb.ClusterMemberAttrSetRequest, error) {
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	var out []*membershippb.ClusterMemberAttrSetRequest
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMembers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			m := &membershippb.ClusterMemberAttrSetRequest{}
			if err := proto.Unmarshal(v, m); err != nil {
				return fmt.Errorf("%w: member %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// CommitLatency returns the distribution of bbolt commit times.
func (s *Store) CommitLatency() latency.Snapshot { return s.commits.Snapshot() }
