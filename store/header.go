package store

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// headers completes response headers, which every service returns.
type headers struct {
	clusterID uint64
	memberID  uint64
	status    *nodeStatus
	// rev is the state machine's current revision.
	rev func() int64
}

// fill completes a response header from the state machine (which sets the
// revision) with the cluster, member and raft term; a nil header gets the
// current revision.
func (hs headers) fill(h *pb.ResponseHeader) *pb.ResponseHeader {
	if h == nil {
		h = &pb.ResponseHeader{Revision: hs.rev()}
	}
	h.ClusterId = hs.clusterID
	h.MemberId = hs.memberID
	h.RaftTerm = hs.status.term.Load()
	return h
}

// fillTxn completes the header of a txn response and of every response
// inside it.
func (hs headers) fillTxn(tr *pb.TxnResponse) {
	tr.Header = hs.fill(tr.GetHeader())
	for _, op := range tr.GetResponses() {
		var h *pb.ResponseHeader
		switch r := op.GetResponse().(type) {
		case *pb.ResponseOp_ResponseRange:
			h = r.ResponseRange.GetHeader()
		case *pb.ResponseOp_ResponsePut:
			h = r.ResponsePut.GetHeader()
		case *pb.ResponseOp_ResponseDeleteRange:
			h = r.ResponseDeleteRange.GetHeader()
		case *pb.ResponseOp_ResponseTxn:
			hs.fillTxn(r.ResponseTxn)
			continue
		}
		if h != nil {
			proto.Merge(h, &pb.ResponseHeader{ClusterId: hs.clusterID, MemberId: hs.memberID, RaftTerm: tr.Header.RaftTerm})
		}
	}
}
