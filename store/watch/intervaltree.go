package watch

import "bytes"

// intervalTree maps distinct key intervals to values and finds the
// intervals that hold a key (a stabbing query). An interval is [start,
// end) in byte order; an empty end means no upper bound, like etcd's
// range_end "\x00".
//
// It is an AVL tree ordered by (start, end), each node augmented with the
// largest end in its subtree. A query skips every subtree whose largest
// end is at or below the key and every node that starts after it, so it
// visits O((k+1) log n) nodes for k matches among n intervals, and the
// height stays below 1.45 log2(n+2) whatever order intervals arrive in.
// ref and delete cost O(log n); nothing allocates but ref of a new
// interval.
//
// Each value lives in its node, and rebalancing relinks nodes without ever
// copying one, so the pointer ref returns stays valid until the interval
// is deleted: a caller can keep it instead of searching again.
//
// The tree keeps the start and end slices it is given; the caller must not
// modify them afterwards. It is not safe for concurrent use.
type intervalTree[V any] struct {
	root *ivNode[V]
	n    int
}

type ivNode[V any] struct {
	start, end  []byte
	val         V
	left, right *ivNode[V]
	maxEnd      []byte // the largest end in this subtree; empty: unbounded
	height      int32
}

// len returns the number of intervals in the tree.
func (t *intervalTree[V]) len() int { return t.n }

// ref returns a pointer to the value of the interval [start, end),
// adding the interval with the zero value if it is not in the tree.
func (t *intervalTree[V]) ref(start, end []byte) *V {
	for n := t.root; n != nil; {
		switch c := compareInterval(start, end, n.start, n.end); {
		case c < 0:
			n = n.left
		case c > 0:
			n = n.right
		default:
			return &n.val
		}
	}
	added := &ivNode[V]{start: start, end: end, maxEnd: end, height: 1}
	t.root = t.root.insert(added)
	t.n++
	return &added.val
}

// delete removes the interval [start, end) and reports whether it was in
// the tree.
func (t *intervalTree[V]) delete(start, end []byte) bool {
	removed := false
	t.root = t.root.remove(start, end, &removed)
	if removed {
		t.n--
	}
	return removed
}

// stab calls fn with the value of each interval that holds key, in
// interval order. fn must not change the tree.
func (t *intervalTree[V]) stab(key []byte, fn func(v *V)) {
	t.root.stab(key, fn)
}

func (n *ivNode[V]) stab(key []byte, fn func(v *V)) {
	for n != nil && endsAfter(n.maxEnd, key) {
		n.left.stab(key, fn)
		if bytes.Compare(n.start, key) > 0 {
			return // this node and its right subtree start after key
		}
		if endsAfter(n.end, key) {
			fn(&n.val)
		}
		n = n.right
	}
}

// insert links the new node x, whose interval is not in the subtree, and
// returns the subtree's new root.
func (n *ivNode[V]) insert(x *ivNode[V]) *ivNode[V] {
	if n == nil {
		return x
	}
	if compareInterval(x.start, x.end, n.start, n.end) < 0 {
		n.left = n.left.insert(x)
	} else {
		n.right = n.right.insert(x)
	}
	return n.rebalance()
}

func (n *ivNode[V]) remove(start, end []byte, removed *bool) *ivNode[V] {
	if n == nil {
		return nil
	}
	switch c := compareInterval(start, end, n.start, n.end); {
	case c < 0:
		n.left = n.left.remove(start, end, removed)
	case c > 0:
		n.right = n.right.remove(start, end, removed)
	default:
		*removed = true
		if n.left == nil {
			return n.right
		}
		if n.right == nil {
			return n.left
		}
		// Put the smallest node of the right subtree in n's place.
		var succ *ivNode[V]
		right := n.right.removeMin(&succ)
		succ.left, succ.right = n.left, right
		return succ.rebalance()
	}
	return n.rebalance()
}

// removeMin unlinks the smallest node of the subtree into *min and returns
// the subtree's new root.
func (n *ivNode[V]) removeMin(min **ivNode[V]) *ivNode[V] {
	if n.left == nil {
		*min = n
		return n.right
	}
	n.left = n.left.removeMin(min)
	return n.rebalance()
}

func (n *ivNode[V]) heightOrZero() int32 {
	if n == nil {
		return 0
	}
	return n.height
}

// fix recomputes the node's height and largest end from its children.
func (n *ivNode[V]) fix() {
	n.height = 1 + max(n.left.heightOrZero(), n.right.heightOrZero())
	n.maxEnd = n.end
	for _, c := range [2]*ivNode[V]{n.left, n.right} {
		if c != nil && compareEnd(c.maxEnd, n.maxEnd) > 0 {
			n.maxEnd = c.maxEnd
		}
	}
}

// rebalance restores the AVL balance at n, whose subtrees are balanced and
// differ in height by at most two, and returns the subtree's root.
func (n *ivNode[V]) rebalance() *ivNode[V] {
	n.fix()
	switch bf := n.left.heightOrZero() - n.right.heightOrZero(); {
	case bf > 1:
		if n.left.left.heightOrZero() < n.left.right.heightOrZero() {
			n.left = n.left.rotateLeft()
		}
		return n.rotateRight()
	case bf < -1:
		if n.right.right.heightOrZero() < n.right.left.heightOrZero() {
			n.right = n.right.rotateRight()
		}
		return n.rotateLeft()
	}
	return n
}

func (n *ivNode[V]) rotateRight() *ivNode[V] {
	l := n.left
	n.left = l.right
	n.fix()
	l.right = n
	l.fix()
	return l
}

func (n *ivNode[V]) rotateLeft() *ivNode[V] {
	r := n.right
	n.right = r.left
	n.fix()
	r.left = n
	r.fix()
	return r
}

// compareInterval orders intervals by start, then by end.
func compareInterval(start1, end1, start2, end2 []byte) int {
	if c := bytes.Compare(start1, start2); c != 0 {
		return c
	}
	return compareEnd(end1, end2)
}

// compareEnd orders interval ends, the unbounded (empty) end last.
func compareEnd(a, b []byte) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	return bytes.Compare(a, b)
}

// endsAfter reports whether an interval ending at end goes past key.
func endsAfter(end, key []byte) bool {
	return len(end) == 0 || bytes.Compare(key, end) < 0
}
