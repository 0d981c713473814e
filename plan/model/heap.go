package model

// event is one thing due at time t. kind says what; m, a and p are its
// arguments (a member, a request or index, a pool).
type event struct {
	t    float64
	seq  uint64
	kind uint8
	p    int16 // the pool whose core the task holds; -1: none
	m    int32
	a    int64
}

// events is a binary min-heap on (t, seq): ties go in the order they were
// scheduled, so a run is reproducible from its seed. It is written out
// rather than built on container/heap, whose interface calls and boxing
// cost more than the simulation itself.
type events struct {
	h   []event
	seq uint64
}

func (q *events) len() int { return len(q.h) }

func (q *events) less(i, j int) bool {
	a, b := &q.h[i], &q.h[j]
	return a.t < b.t || a.t == b.t && a.seq < b.seq
}

func (q *events) push(e event) {
	q.seq++
	e.seq = q.seq
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q.h[i], q.h[parent] = q.h[parent], q.h[i]
		i = parent
	}
}

func (q *events) pop() event {
	top := q.h[0]
	last := len(q.h) - 1
	q.h[0] = q.h[last]
	q.h = q.h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		small := l
		if r := l + 1; r < last && q.less(r, l) {
			small = r
		}
		if !q.less(small, i) {
			break
		}
		q.h[i], q.h[small] = q.h[small], q.h[i]
		i = small
	}
	return top
}
