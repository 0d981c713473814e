package store

import (
	"container/heap"
	"math"
	"sync"
	"time"

	"github.com/adrbench/adrbench/store/mvcc"
)

// maxLeaseTTL is etcd's upper bound on a lease's TTL, in seconds.
const maxLeaseTTL = 9000000000

// lessor keeps the expiry times of leases. Only the leader's clock counts:
// it renews leases on keep-alives and proposes revocations when they
// expire, so that expiry goes through raft like every other change. The
// durable part of a lease (its id, TTL and keys) lives in the state machine.
type lessor struct {
	mu      sync.Mutex
	leases  map[int64]*leaseTimer
	expiry  leaseHeap
	primary bool
	minTTL  int64
	now     func() time.Time
}

type leaseTimer struct {
	id     int64
	ttl    int64
	expiry time.Time
	index  int // in the heap
	// revoking is set once a revocation is proposed, so that it is proposed
	// once per retry interval, not on every check.
	revoking time.Time
}

func newLessor(minTTL int64, now func() time.Time) *lessor {
	return &lessor{leases: map[int64]*leaseTimer{}, minTTL: minTTL, now: now}
}

// effectiveTTL is the TTL a lease really gets: etcd raises TTLs below the
// minimum (which keeps a lease alive across a leader election).
func (l *lessor) effectiveTTL(ttl int64) int64 {
	if ttl < l.minTTL {
		return l.minTTL
	}
	return ttl
}

// reload replaces the known leases with the state machine's, as after a
// restart or a snapshot restore.
func (l *lessor) reload(infos []mvcc.LeaseInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leases = map[int64]*leaseTimer{}
	l.expiry = l.expiry[:0]
	now := l.now()
	for _, in := range infos {
		l.addLocked(in.ID, in.TTL, now)
	}
}

func (l *lessor) grant(id, ttl int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.leases[id]; ok {
		return
	}
	l.addLocked(id, ttl, l.now())
}

func (l *lessor) addLocked(id, ttl int64, now time.Time) {
	t := &leaseTimer{id: id, ttl: ttl, expiry: now.Add(time.Duration(ttl) * time.Second)}
	l.leases[id] = t
	heap.Push(&l.expiry, t)
}

func (l *lessor) revoke(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.leases[id]
	if !ok {
		return
	}
	delete(l.leases, id)
	heap.Remove(&l.expiry, t.index)
}

// renew restarts a lease's TTL; only the leader may, since only its clock
// decides expiry. It returns the TTL, or false if the lease is unknown.
func (l *lessor) renew(id int64) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.leases[id]
	if !ok {
		return 0, false
	}
	t.expiry = l.now().Add(time.Duration(t.ttl) * time.Second)
	t.revoking = time.Time{}
	heap.Fix(&l.expiry, t.index)
	return t.ttl, true
}

// remaining returns a lease's granted TTL and the seconds left before it
// expires (rounded up, as etcd reports them).
func (l *lessor) remaining(id int64) (granted, left int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.leases[id]
	if !ok {
		return 0, 0, false
	}
	d := t.expiry.Sub(l.now())
	if d < 0 {
		d = 0
	}
	return t.ttl, int64(math.Ceil(d.Seconds())), true
}

// promote makes this member's clock the one that counts. Every lease gets a
// full TTL plus extend from now, because the old leader's renewals are not
// known here.
func (l *lessor) promote(extend time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = true
	now := l.now()
	for _, t := range l.leases {
		t.expiry = now.Add(time.Duration(t.ttl)*time.Second + extend)
		t.revoking = time.Time{}
	}
	heap.Init(&l.expiry)
}

func (l *lessor) demote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = false
}

// expired returns up to limit leases past their expiry that have no
// revocation in flight (or one older than retry). Only the leader's are
// returned.
func (l *lessor) expired(limit int, retry time.Duration) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return nil
	}
	now := l.now()
	var ids []int64
	// The heap is ordered by expiry; walk it without popping (leases stay
	// until their revocation is applied).
	for _, t := range l.expiry {
		if len(ids) >= limit {
			break
		}
		if t.expiry.After(now) {
			continue
		}
		if !t.revoking.IsZero() && now.Sub(t.revoking) < retry {
			continue
		}
		t.revoking = now
		ids = append(ids, t.id)
	}
	return ids
}

type leaseHeap []*leaseTimer

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h leaseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *leaseHeap) Push(x any) {
	t := x.(*leaseTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *leaseHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
