package watch

import "bytes"

// rangeTree holds the range watchers in a treap ordered by start key, each
// node also holding the largest end in its subtree, so that finding the
// ranges holding a key skips every subtree that ends at or before it and
// every subtree that starts after it: O(log n + matches) expected, instead
// of a scan of every range watcher per event.
type rangeTree struct {
	root *rangeNode
	n    int
	seq  uint64 // orders equal start keys and seeds priorities
}

type rangeNode struct {
	w           *watcher
	seq         uint64
	prio        uint64
	left, right *rangeNode
	// maxEnd is the largest end in the subtree; maxOpen means some range in
	// it is open-ended (etcd's range_end "\x00").
	maxEnd  []byte
	maxOpen bool
}

func (t *rangeTree) add(w *watcher) {
	t.seq++
	n := &rangeNode{w: w, seq: t.seq, prio: splitmix64(t.seq)}
	w.node = n
	t.root = insertNode(t.root, n)
	t.n++
}

func (t *rangeTree) remove(w *watcher) {
	t.root = deleteNode(t.root, w.node)
	w.node = nil
	t.n--
}

// match appends to dst the watchers whose range holds key.
func (t *rangeTree) match(key []byte, dst []*watcher) []*watcher {
	return stab(t.root, key, dst)
}

func stab(n *rangeNode, key []byte, dst []*watcher) []*watcher {
	for n != nil {
		if !n.maxOpen && bytes.Compare(key, n.maxEnd) >= 0 {
			return dst
		}
		dst = stab(n.left, key, dst)
		if bytes.Compare(n.w.key, key) > 0 {
			return dst // this node and its right subtree start after key
		}
		if n.w.holds(key) {
			dst = append(dst, n.w)
		}
		n = n.right
	}
	return dst
}

func nodeLess(a, b *rangeNode) bool {
	c := bytes.Compare(a.w.key, b.w.key)
	return c < 0 || (c == 0 && a.seq < b.seq)
}

func insertNode(root, n *rangeNode) *rangeNode {
	if root == nil {
		n.fix()
		return n
	}
	if nodeLess(n, root) {
		root.left = insertNode(root.left, n)
		if root.left.prio > root.prio {
			root = rotateRight(root)
		}
	} else {
		root.right = insertNode(root.right, n)
		if root.right.prio > root.prio {
			root = rotateLeft(root)
		}
	}
	root.fix()
	return root
}

func deleteNode(root, n *rangeNode) *rangeNode {
	if root == nil {
		panic("watch: range watcher missing from its index") // broken invariant
	}
	if root == n {
		return mergeNodes(root.left, root.right)
	}
	if nodeLess(n, root) {
		root.left = deleteNode(root.left, n)
	} else {
		root.right = deleteNode(root.right, n)
	}
	root.fix()
	return root
}

// mergeNodes joins two treaps where every node of a orders before b's.
func mergeNodes(a, b *rangeNode) *rangeNode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = mergeNodes(a.right, b)
		a.fix()
		return a
	default:
		b.left = mergeNodes(a, b.left)
		b.fix()
		return b
	}
}

func rotateRight(x *rangeNode) *rangeNode {
	l := x.left
	x.left = l.right
	x.fix()
	l.right = x
	l.fix()
	return l
}

func rotateLeft(x *rangeNode) *rangeNode {
	r := x.right
	x.right = r.left
	x.fix()
	r.left = x
	r.fix()
	return r
}

// fix recomputes the subtree's largest end from the node and its children.
func (n *rangeNode) fix() {
	n.maxEnd, n.maxOpen = n.w.end, len(n.w.end) == 0
	for _, c := range [2]*rangeNode{n.left, n.right} {
		if c == nil || n.maxOpen {
			continue
		}
		if c.maxOpen {
			n.maxEnd, n.maxOpen = nil, true
		} else if bytes.Compare(c.maxEnd, n.maxEnd) > 0 {
			n.maxEnd = c.maxEnd
		}
	}
}

// splitmix64 turns a counter into well-spread treap priorities without a
// random source.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
