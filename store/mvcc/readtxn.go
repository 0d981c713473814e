package mvcc

import (
	"fmt"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// ReadOnlyTxn reports whether t writes nothing in any branch, nested
// transactions included: etcd serves such a transaction from the local
// state machine instead of through raft.
func ReadOnlyTxn(t *etcdserverpb.TxnRequest) bool {
	for _, ops := range [][]*etcdserverpb.RequestOp{t.GetSuccess(), t.GetFailure()} {
		for _, op := range ops {
			switch {
			case op.GetRequestRange() != nil:
			case op.GetRequestTxn() != nil:
				if !ReadOnlyTxn(op.GetRequestTxn()) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// SerializableTxn reports whether every range of t, in every branch and
// nested transaction, asks for a serializable read, as etcd decides that a
// read-only transaction needs no ReadIndex.
func SerializableTxn(t *etcdserverpb.TxnRequest) bool {
	for _, ops := range [][]*etcdserverpb.RequestOp{t.GetSuccess(), t.GetFailure()} {
		for _, op := range ops {
			switch {
			case op.GetRequestRange() != nil:
				if !op.GetRequestRange().GetSerializable() {
					return false
				}
			case op.GetRequestTxn() != nil:
				if !SerializableTxn(op.GetRequestTxn()) {
					return false
				}
			}
		}
	}
	return true
}

// ReadTxn evaluates a transaction that writes nothing (ReadOnlyTxn) on the
// current state, without Apply: its compares and ranges all see one
// revision, the current one, as they would inside an Apply, and its
// answer is the one Apply would give at that revision. Like Range it never
// waits for a commit; it holds the read lock for the whole evaluation, so
// that every read sees the same index. A transaction with writes is
// ErrUnsupported.
func (s *Store) ReadTxn(t *etcdserverpb.TxnRequest) (*etcdserverpb.TxnResponse, error) {
	if !ReadOnlyTxn(t) {
		return nil, fmt.Errorf("%w: read txn with writes", ErrUnsupported)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("mvcc: read txn: %w", err)
	}
	resp, err := s.readTxn(t)
	if err != nil {
		return nil, err
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("mvcc: read txn: %w", err)
	}
	return resp, nil
}

func (s *Store) readTxn(t *etcdserverpb.TxnRequest) (*etcdserverpb.TxnResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := txnReader{s: s}
	defer r.close()
	view := s.rev.Load()
	path, err := s.txnPathLocked(t, view, r.kvs)
	if err != nil {
		return nil, err
	}
	p := path
	if _, err := s.checkTxnLocked(t, &p, view); err != nil {
		return nil, err
	}
	p = path
	return s.execReadTxnLocked(t, &p, view, r.kvs)
}

// execReadTxnLocked runs the ranges on the taken path. Caller holds mu
// for reading.
func (s *Store) execReadTxnLocked(t *etcdserverpb.TxnRequest, path *[]bool, view int64, get kvsAt) (*etcdserverpb.TxnResponse, error) {
	ok := (*path)[0]
	*path = (*path)[1:]
	ops := branch(t, ok)
	resp := &etcdserverpb.TxnResponse{Succeeded: ok, Responses: make([]*etcdserverpb.ResponseOp, 0, len(ops))}
	for _, op := range ops {
		var out etcdserverpb.ResponseOp
		switch {
		case op.GetRequestRange() != nil:
			rr, err := s.rangeInTxnLocked(op.GetRequestRange(), view, get)
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponseRange{ResponseRange: rr}
		case op.GetRequestTxn() != nil:
			tr, err := s.execReadTxnLocked(op.GetRequestTxn(), path, view, get)
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponseTxn{ResponseTxn: tr}
		default:
			return nil, fmt.Errorf("%w: write in a read txn", ErrUnsupported)
		}
		resp.Responses = append(resp.Responses, &out)
	}
	resp.Header = header(view)
	return resp, nil
}

// txnReader reads values for a read-only transaction as Range does: from
// the uncommitted buffer when they are in it, else from a bbolt read
// transaction, begun at the first such value under mu, which then holds
// everything committed before the buffer last shrank.
type txnReader struct {
	s  *Store
	tx *bbolt.Tx
	kb *bbolt.Bucket
}

// kvs reads the values at revs. Caller holds mu for reading.
func (r *txnReader) kvs(key []byte, revs []revision) ([]*mvccpb.KeyValue, error) {
	vals := make([][]byte, len(revs))
	var k [revKeyLen + 1]byte
	for i, rv := range revs {
		if rv.main > r.s.committedRev {
			v, ok := r.s.bufferedLocked(rv)
			if !ok {
				return nil, fmt.Errorf("%w: revision %d.%d in range %q missing from batch", ErrCorrupt, rv.main, rv.sub, key)
			}
			vals[i] = v
			continue
		}
		if r.tx == nil {
			tx, err := r.s.db.Begin(false)
			if err != nil {
				return nil, fmt.Errorf("mvcc: read txn: begin read: %w", err)
			}
			r.tx, r.kb = tx, tx.Bucket(bucketKey)
		}
		if vals[i] = r.kb.Get(putRevKey(k[:], rv, false)); vals[i] == nil {
			return nil, fmt.Errorf("%w: revision %d.%d in range %q missing", ErrCorrupt, rv.main, rv.sub, key)
		}
	}
	return fillValues(revs, vals, nil)
}

func (r *txnReader) close() {
	if r.tx != nil {
		_ = r.tx.Rollback()
	}
}
