package workloads

import (
	"context"
	"fmt"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Op is one client operation. An Op returned by Worker.Next belongs to that
// worker and is valid until its next call to Next.
type Op interface {
	// Do executes the operation; a multi-request operation (read-modify-
	// write, lease churn) counts as one.
	Do(ctx context.Context, c *clientv3.Client) error
	// Kind names the operation: "read", "update", "insert", "scan", "rmw",
	// "delete", "txn" or "lease".
	Kind() string
}

type getOp struct {
	key  string
	opts []clientv3.OpOption
}

func (o *getOp) Kind() string { return "read" }
func (o *getOp) Do(ctx context.Context, c *clientv3.Client) error {
	_, err := c.Get(ctx, o.key, o.opts...)
	return err
}

type putOp struct {
	kind, key, val string
}

func (o *putOp) Kind() string { return o.kind }
func (o *putOp) Do(ctx context.Context, c *clientv3.Client) error {
	_, err := c.Put(ctx, o.key, o.val)
	return err
}

type scanOp struct {
	key, end string
	limit    int64
	opts     []clientv3.OpOption // consistency; range and limit are added per call
}

func (o *scanOp) Kind() string { return "scan" }
func (o *scanOp) Do(ctx context.Context, c *clientv3.Client) error {
	opts := append(o.opts[:len(o.opts):len(o.opts)], clientv3.WithRange(o.end), clientv3.WithLimit(o.limit))
	_, err := c.Get(ctx, o.key, opts...)
	return err
}

type rmwOp struct {
	key, val string
	opts     []clientv3.OpOption
}

func (o *rmwOp) Kind() string { return "rmw" }
func (o *rmwOp) Do(ctx context.Context, c *clientv3.Client) error {
	if _, err := c.Get(ctx, o.key, o.opts...); err != nil {
		return err
	}
	_, err := c.Put(ctx, o.key, o.val)
	return err
}

type deleteOp struct{ key string }

func (o *deleteOp) Kind() string { return "delete" }
func (o *deleteOp) Do(ctx context.Context, c *clientv3.Client) error {
	_, err := c.Delete(ctx, o.key)
	return err
}

// casOp is a compare-and-swap: put the key only if its mod revision is the
// one this worker last saw, else read the current revision. A failed compare
// is not an error (the store did what was asked) but is counted as a
// conflict, the measure of contention.
type casOp struct {
	key, val  string
	revs      map[string]int64 // last mod revision seen per key, this worker's
	conflicts *atomic.Uint64
	succeeded *atomic.Uint64
}

func (o *casOp) Kind() string { return "txn" }
func (o *casOp) Do(ctx context.Context, c *clientv3.Client) error {
	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(o.key), "=", o.revs[o.key])).
		Then(clientv3.OpPut(o.key, o.val)).
		Else(clientv3.OpGet(o.key)).
		Commit()
	if err != nil {
		return err
	}
	if resp.Succeeded {
		o.succeeded.Add(1)
		o.revs[o.key] = resp.Header.Revision
		return nil
	}
	o.conflicts.Add(1)
	if len(resp.Responses) == 1 {
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			o.revs[o.key] = kvs[0].ModRevision
		}
	}
	return nil
}

// leaseOp is one round of lease churn: grant, attach a key, keep alive once,
// then revoke the lease or leave it to expire on its own.
type leaseOp struct {
	key, val string
	ttl      int64
	revoke   bool
}

func (o *leaseOp) Kind() string { return "lease" }
func (o *leaseOp) Do(ctx context.Context, c *clientv3.Client) error {
	g, err := c.Grant(ctx, o.ttl)
	if err != nil {
		return err
	}
	if _, err := c.Put(ctx, o.key, o.val, clientv3.WithLease(g.ID)); err != nil {
		return err
	}
	if _, err := c.KeepAliveOnce(ctx, g.ID); err != nil {
		return fmt.Errorf("keep-alive lease %x: %w", int64(g.ID), err)
	}
	if o.revoke {
		if _, err := c.Revoke(ctx, g.ID); err != nil {
			return fmt.Errorf("revoke lease %x: %w", int64(g.ID), err)
		}
	}
	return nil
}
