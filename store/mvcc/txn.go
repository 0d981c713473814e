package mvcc

import (
	"bytes"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// txnLocked applies a transaction the way etcd does: duplicate writes are
// refused first; then every compare, nested ones included, is evaluated
// against the state before the transaction, which fixes the branch taken
// at every level; the ops on that path are checked (leases, ignore flags,
// read revisions) so that a failing op leaves nothing half-applied; then
// the path runs, all writes at one revision, reads seeing earlier writes.
func (s *Store) txnLocked(w *writer, t *etcdserverpb.TxnRequest) (*etcdserverpb.TxnResponse, error) {
	if err := checkTxnIntervals(t); err != nil {
		return nil, err
	}
	view := w.viewRev()
	path, err := s.txnPathLocked(t, view, s.batchKVsLocked)
	if err != nil {
		return nil, err
	}
	p := path
	cost, err := s.checkTxnLocked(t, &p, view)
	if err != nil {
		return nil, err
	}
	if err := s.checkQuotaLocked(cost); err != nil {
		return nil, err
	}
	p = path
	resp, err := s.execTxnLocked(w, t, &p)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func branch(t *etcdserverpb.TxnRequest, ok bool) []*etcdserverpb.RequestOp {
	if ok {
		return t.Success
	}
	return t.Failure
}

// kvsAt reads the values at revs of keys found in a range over key; Apply
// reads them from the batch transaction (batchKVsLocked), a read-only
// transaction outside Apply like Range does (txnReader).
type kvsAt func(key []byte, revs []revision) ([]*mvccpb.KeyValue, error)

// txnPathLocked evaluates compares depth first along the taken branches.
func (s *Store) txnPathLocked(t *etcdserverpb.TxnRequest, view int64, get kvsAt) ([]bool, error) {
	ok := true
	for _, c := range t.Compare {
		res, err := s.compareLocked(c, view, get)
		if err != nil {
			return nil, err
		}
		if !res {
			ok = false
			break
		}
	}
	path := []bool{ok}
	for _, op := range branch(t, ok) {
		if nt := op.GetRequestTxn(); nt != nil {
			sub, err := s.txnPathLocked(nt, view, get)
			if err != nil {
				return nil, err
			}
			path = append(path, sub...)
		}
	}
	return path, nil
}

// checkTxnLocked validates the ops on the path and returns the bytes its
// puts would add.
func (s *Store) checkTxnLocked(t *etcdserverpb.TxnRequest, path *[]bool, view int64) (int64, error) {
	ok := (*path)[0]
	*path = (*path)[1:]
	var cost int64
	for _, op := range branch(t, ok) {
		switch {
		case op.GetRequestRange() != nil:
			if _, err := checkReadRev(op.GetRequestRange().Revision, view, s.compactRev.Load()); err != nil {
				return 0, fmt.Errorf("txn range %q: %w", op.GetRequestRange().Key, err)
			}
		case op.GetRequestPut() != nil:
			if err := s.checkPutLocked(op.GetRequestPut(), view); err != nil {
				return 0, err
			}
			cost += putCost(op.GetRequestPut())
		case op.GetRequestTxn() != nil:
			c, err := s.checkTxnLocked(op.GetRequestTxn(), path, view)
			if err != nil {
				return 0, err
			}
			cost += c
		}
	}
	return cost, nil
}

func (s *Store) execTxnLocked(w *writer, t *etcdserverpb.TxnRequest, path *[]bool) (*etcdserverpb.TxnResponse, error) {
	ok := (*path)[0]
	*path = (*path)[1:]
	ops := branch(t, ok)
	resp := &etcdserverpb.TxnResponse{Succeeded: ok, Responses: make([]*etcdserverpb.ResponseOp, 0, len(ops))}
	for _, op := range ops {
		var out etcdserverpb.ResponseOp
		switch {
		case op.GetRequestRange() != nil:
			rr, err := s.rangeInTxnLocked(op.GetRequestRange(), w.viewRev(), s.batchKVsLocked)
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponseRange{ResponseRange: rr}
		case op.GetRequestPut() != nil:
			pr, err := s.putLocked(w, op.GetRequestPut())
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponsePut{ResponsePut: pr}
		case op.GetRequestDeleteRange() != nil:
			dr, err := s.deleteRangeLocked(w, op.GetRequestDeleteRange())
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: dr}
		case op.GetRequestTxn() != nil:
			tr, err := s.execTxnLocked(w, op.GetRequestTxn(), path)
			if err != nil {
				return nil, err
			}
			out.Response = &etcdserverpb.ResponseOp_ResponseTxn{ResponseTxn: tr}
		default:
			return nil, fmt.Errorf("%w: empty txn op", ErrUnsupported)
		}
		resp.Responses = append(resp.Responses, &out)
	}
	resp.Header = header(w.viewRev())
	return resp, nil
}

// batchKVsLocked decodes the values at revs from the batch transaction.
func (s *Store) batchKVsLocked(key []byte, revs []revision) ([]*mvccpb.KeyValue, error) {
	vals := make([][]byte, len(revs))
	var k [revKeyLen + 1]byte
	for i, r := range revs {
		if vals[i] = s.keyB.Get(putRevKey(k[:], r, false)); vals[i] == nil {
			return nil, fmt.Errorf("%w: revision %d.%d in range %q missing", ErrCorrupt, r.main, r.sub, key)
		}
	}
	return fillValues(revs, vals, nil)
}

func (s *Store) rangeInTxnLocked(r *etcdserverpb.RangeRequest, view int64, get kvsAt) (*etcdserverpb.RangeResponse, error) {
	rev, err := checkReadRev(r.Revision, view, s.compactRev.Load())
	if err != nil {
		return nil, fmt.Errorf("txn range %q: %w", r.Key, err)
	}
	revs, count := s.planLocked(r.Key, r.RangeEnd, rev, fetchLimit(r), r.CountOnly)
	kvs, err := get(r.Key, revs)
	if err != nil {
		return nil, err
	}
	return finishRange(r, kvs, count, view), nil
}

// compareLocked follows etcd: a compare over a range holds when it holds
// for every key in it; over no key it is tested against an empty
// KeyValue (version, revisions and lease 0), except that a VALUE compare
// on a missing key is always false.
func (s *Store) compareLocked(c *etcdserverpb.Compare, view int64, get kvsAt) (bool, error) {
	revs, _ := s.planLocked(c.Key, c.RangeEnd, view, 0, false)
	kvs, err := get(c.Key, revs)
	if err != nil {
		return false, err
	}
	if len(kvs) == 0 {
		if c.Target == etcdserverpb.Compare_VALUE {
			return false, nil
		}
		return compareKV(c, &mvccpb.KeyValue{}), nil
	}
	for _, kv := range kvs {
		if !compareKV(c, kv) {
			return false, nil
		}
	}
	return true, nil
}

func compareKV(c *etcdserverpb.Compare, kv *mvccpb.KeyValue) bool {
	var res int
	num := func(a, b int64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	switch c.Target {
	case etcdserverpb.Compare_VALUE:
		res = bytes.Compare(kv.Value, c.GetValue())
	case etcdserverpb.Compare_CREATE:
		res = num(kv.CreateRevision, c.GetCreateRevision())
	case etcdserverpb.Compare_MOD:
		res = num(kv.ModRevision, c.GetModRevision())
	case etcdserverpb.Compare_VERSION:
		res = num(kv.Version, c.GetVersion())
	case etcdserverpb.Compare_LEASE:
		res = num(kv.Lease, c.GetLease())
	}
	switch c.Result {
	case etcdserverpb.Compare_EQUAL:
		return res == 0
	case etcdserverpb.Compare_NOT_EQUAL:
		return res != 0
	case etcdserverpb.Compare_GREATER:
		return res > 0
	case etcdserverpb.Compare_LESS:
		return res < 0
	}
	return true
}

// span is a deleted range in a txn, for the duplicate-key check.
type span struct{ key, end []byte }

func (sp span) contains(k []byte) bool { return inRange(k, sp.key, sp.end) }

// checkTxnIntervals is etcd's rule against writing a key twice in one
// transaction: within one branch (nested transactions included) a key may
// be put once and not also be inside a deleted range; the two branches of
// a nested transaction may put the same key since only one runs.
// Overlapping deletes are allowed.
func checkTxnIntervals(t *etcdserverpb.TxnRequest) error {
	if _, _, err := branchWrites(t.Success); err != nil {
		return err
	}
	_, _, err := branchWrites(t.Failure)
	return err
}

func branchWrites(ops []*etcdserverpb.RequestOp) (map[string]struct{}, []span, error) {
	var dels []span
	for _, op := range ops {
		if d := op.GetRequestDeleteRange(); d != nil {
			dels = append(dels, span{d.Key, d.RangeEnd})
		}
	}
	deleted := func(k string) bool {
		for _, sp := range dels {
			if sp.contains([]byte(k)) {
				return true
			}
		}
		return false
	}
	dup := func(k string) error {
		return fmt.Errorf("txn key %q: %w", k, ErrDuplicateKey)
	}
	puts := make(map[string]struct{})
	for _, op := range ops {
		nt := op.GetRequestTxn()
		if nt == nil {
			continue
		}
		putsThen, delsThen, err := branchWrites(nt.Success)
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := branchWrites(nt.Failure)
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, ok := puts[k]; ok || deleted(k) {
				return nil, nil, dup(k)
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, ok := puts[k]; ok {
				if _, same := putsThen[k]; !same {
					return nil, nil, dup(k)
				}
			}
			if deleted(k) {
				return nil, nil, dup(k)
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, op := range ops {
		p := op.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, ok := puts[k]; ok || deleted(k) {
			return nil, nil, dup(k)
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
