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
	if err := k.checkReadTxn(ctx, r); err != nil {
		return nil, err
	}
	tr, err := k.kv.ReadTxn(r)
	if err != nil {
		return nil, toGRPC(err)
	}
	k.headers.fillTxn(tr)
	return tr, nil
}

// checkReadTxn checks that the request's user may read every key a
// read-only transaction compares or reads, its nested transactions'
// included, as etcd checks a transaction it serves without raft (a
// proposed one is checked when applied).
func (k *kvServer) checkReadTxn(ctx context.Context, r *pb.TxnRequest) error {
	for _, c := range r.GetCompare() {
		if err := k.auth.checkRange(ctx, c.GetKey(), c.GetRangeEnd()); err != nil {
			return err
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			if rr := op.GetRequestRange(); rr != nil {
				if err := k.auth.checkRange(ctx, rr.GetKey(), rr.GetRangeEnd()); err != nil {
					return err
				}
			}
			if tr := op.GetRequestTxn(); tr != nil {
				if err := k.checkReadTxn(ctx, tr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
