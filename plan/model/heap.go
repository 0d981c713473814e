package model

// event is one thing due at time t. kind says what; m, a and p are its
// arguments (a member, a request or index, a pool).
type event struct {
	t    float64
	a    int64
	m    int32
	p    int16 // the pool whose core the task holds; -1: none
	kind uint8
}

// events is a 4-ary min-heap on t, written out rather than built on
// container/heap, whose interface calls and boxing cost more than the
// simulation itself; four children per node halve its depth, and the
// children of a node share a cache line or two. Events due at the same
// time leave in an order fixed by the sequence of pushes and pops, so a
// run is reproducible from its seed.
type events struct {
	h []event
}

func (q *events) len() int { return len(q.h) }

func (q *events) push(e event) {
	q.h = append(q.h, e)
	h := q.h
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if h[parent].t <= e.t {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
}

func (q *events) pop() event {
	h := q.h
	top := h[0]
	last := len(h) - 1
	e := h[last]
	h = h[:last]
	q.h = h
	if last == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= last {
			break
		}
		small := c
		end := min(c+4, last)
		for j := c + 1; j < end; j++ {
			if h[j].t < h[small].t {
				small = j
			}
		}
		if h[small].t >= e.t {
			break
		}
		h[i] = h[small]
		i = small
	}
	h[i] = e
	return top
}
