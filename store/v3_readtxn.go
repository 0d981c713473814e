package store

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/adrbench/adrbench/store/mvcc"
)

// readTxn serves a transaction that writes nothing as etcd does: not
// through raft, but from this member's state machine, after a ReadIndex
// round (shared with the linearizable ranges) unless every range in it is
// serializable. Its compares and ranges see one revision, at least the
// leader's commit index when the read began, so it is as linearizable as
// a linearizable Range.
func (k *kvServer) readTxn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if !mvcc.SerializableTxn(r) {
		if err := k.reads.read(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	if err := k.auth.checkTxnReads(ctx, r); err != nil {
		return nil, err
	}
	tr, err := k.kv.ReadTxn(r)
	if err != nil {
		return nil, toGRPC(err)
	}
	k.headers.fillTxn(tr)
	return tr, nil
}
