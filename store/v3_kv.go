package store

import (
	"bytes"
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/adrbench/adrbench/store/mvcc"
)

// kvServer implements etcd's KV service: reads from the state machine,
// writes through raft.
type kvServer struct {
	pb.UnimplementedKVServer
	kv        *mvcc.Store
	reads     *readBatcher
	proposer  *proposer
	headers   headers
	maxTxnOps int
	auth      *authenticator
}

func (k *kvServer) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	if !r.GetSerializable() {
		if err := k.reads.read(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	if err := k.auth.checkRange(ctx, r.GetKey(), r.GetRangeEnd()); err != nil {
		return nil, err
	}
	resp, err := k.kv.Range(r)
	if err != nil {
		return nil, toGRPC(err)
	}
	resp.Header = k.headers.fill(resp.GetHeader())
	return resp, nil
}

func (k *kvServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	resp, err := k.auth.propose(ctx, k.proposer, &pb.InternalRaftRequest{Put: r})
	if err != nil {
		return nil, toGRPC(err)
	}
	pr := resp.(*pb.PutResponse)
	pr.Header = k.headers.fill(pr.GetHeader())
	return pr, nil
}

func (k *kvServer) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if len(r.GetKey()) == 0 {
		return nil, rpctypes.ErrGRPCEmptyKey
	}
	resp, err := k.auth.propose(ctx, k.proposer, &pb.InternalRaftRequest{DeleteRange: r})
	if err != nil {
		return nil, toGRPC(err)
	}
	dr := resp.(*pb.DeleteRangeResponse)
	dr.Header = k.headers.fill(dr.GetHeader())
	return dr, nil
}

func (k *kvServer) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkTxn(r, k.maxTxnOps); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.GetSuccess()); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.GetFailure()); err != nil {
		return nil, err
	}
	if mvcc.ReadOnlyTxn(r) {
		return k.readTxn(ctx, r)
	}
	resp, err := k.auth.propose(ctx, k.proposer, &pb.InternalRaftRequest{Txn: r})
	if err != nil {
		return nil, toGRPC(err)
	}
	tr := resp.(*pb.TxnResponse)
	k.headers.fillTxn(tr)
	return tr, nil
}

func (k *kvServer) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := k.auth.propose(ctx, k.proposer, &pb.InternalRaftRequest{Compaction: r})
	if err != nil {
		return nil, toGRPC(err)
	}
	if r.GetPhysical() {
		// As etcd: a physical compaction answers once this member has
		// deleted the compacted records, not only dropped them from its
		// index.
		if err := k.kv.WaitCompaction(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	cr := resp.(*pb.CompactionResponse)
	cr.Header = k.headers.fill(cr.GetHeader())
	return cr, nil
}

func checkRange(r *pb.RangeRequest) error {
	if len(r.GetKey()) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if _, ok := pb.RangeRequest_SortOrder_name[int32(r.GetSortOrder())]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	if _, ok := pb.RangeRequest_SortTarget_name[int32(r.GetSortTarget())]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	return nil
}

func checkPut(r *pb.PutRequest) error {
	if len(r.GetKey()) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if r.GetIgnoreValue() && len(r.GetValue()) != 0 {
		return rpctypes.ErrGRPCValueProvided
	}
	if r.GetIgnoreLease() && r.GetLease() != 0 {
		return rpctypes.ErrGRPCLeaseProvided
	}
	return nil
}

func checkTxn(r *pb.TxnRequest, maxOps int) error {
	if len(r.GetCompare()) > maxOps || len(r.GetSuccess()) > maxOps || len(r.GetFailure()) > maxOps {
		return rpctypes.ErrGRPCTooManyOps
	}
	for _, c := range r.GetCompare() {
		if len(c.GetKey()) == 0 {
			return rpctypes.ErrGRPCEmptyKey
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			if err := checkOp(op, maxOps); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkOp(op *pb.RequestOp, maxOps int) error {
	switch {
	case op.GetRequestRange() != nil:
		return checkRange(op.GetRequestRange())
	case op.GetRequestPut() != nil:
		return checkPut(op.GetRequestPut())
	case op.GetRequestDeleteRange() != nil:
		if len(op.GetRequestDeleteRange().GetKey()) == 0 {
			return rpctypes.ErrGRPCEmptyKey
		}
	case op.GetRequestTxn() != nil:
		return checkTxn(op.GetRequestTxn(), maxOps)
	}
	return nil
}

// interval is a deleted key range [start, end); end nil means one key.
type interval struct{ start, end []byte }

func (iv interval) contains(key []byte) bool {
	if iv.end == nil {
		return bytes.Equal(iv.start, key)
	}
	if len(iv.end) == 1 && iv.end[0] == 0 {
		return bytes.Compare(key, iv.start) >= 0
	}
	return bytes.Compare(key, iv.start) >= 0 && bytes.Compare(key, iv.end) < 0
}

// checkIntervals rejects, as etcd does, a txn branch that writes one key
// twice: two puts of a key, or a put of a key the branch also deletes. The
// two branches of a nested txn never both run, so they may overlap each
// other, but not the ops around them.
func checkIntervals(ops []*pb.RequestOp) ([]interval, map[string]struct{}, error) {
	var dels []interval
	puts := map[string]struct{}{}
	for _, op := range ops {
		if d := op.GetRequestDeleteRange(); d != nil {
			iv := interval{start: d.GetKey()}
			if len(d.GetRangeEnd()) > 0 {
				iv.end = d.GetRangeEnd()
			}
			dels = append(dels, iv)
		}
	}
	for _, op := range ops {
		switch {
		case op.GetRequestPut() != nil:
			k := string(op.GetRequestPut().GetKey())
			if _, dup := puts[k]; dup {
				return nil, nil, rpctypes.ErrGRPCDuplicateKey
			}
			puts[k] = struct{}{}
		case op.GetRequestTxn() != nil:
			t := op.GetRequestTxn()
			sd, sp, err := checkIntervals(t.GetSuccess())
			if err != nil {
				return nil, nil, err
			}
			fd, fp, err := checkIntervals(t.GetFailure())
			if err != nil {
				return nil, nil, err
			}
			for _, m := range []map[string]struct{}{sp, fp} {
				for k := range m {
					if _, dup := puts[k]; dup {
						return nil, nil, rpctypes.ErrGRPCDuplicateKey
					}
				}
			}
			for k := range sp {
				puts[k] = struct{}{}
			}
			for k := range fp {
				puts[k] = struct{}{}
			}
			dels = append(dels, sd...)
			dels = append(dels, fd...)
		}
	}
	for k := range puts {
		for _, iv := range dels {
			if iv.contains([]byte(k)) {
				return nil, nil, rpctypes.ErrGRPCDuplicateKey
			}
		}
	}
	return dels, puts, nil
}
