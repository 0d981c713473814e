package mvcc

import (
	"bytes"
	"math/rand/v2"
)

// maxLevel bounds the tower height; with p = 1/4 it serves 4^16 keys.
const maxLevel = 16

// skiplist orders the key indexes by key for range scans; point lookups go
// through the Store's map instead. It is not safe for concurrent mutation:
// the Store mutates it under mu and scans it under mu.RLock.
type skiplist struct {
	head  slNode
	level int
	rnd   *rand.Rand
	len   int
}

type slNode struct {
	ki   *keyIndex
	next [maxLevel]*slNode
}

func newSkiplist() *skiplist {
	return &skiplist{level: 1, rnd: rand.New(rand.NewPCG(0x6d766363, 0x736b6970))}
}

// findLT fills prev with the last node at each level whose key is < key and
// returns the first node with key >= key, or nil.
func (l *skiplist) findGE(key []byte, prev *[maxLevel]*slNode) *slNode {
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for n := x.next[i]; n != nil && bytes.Compare(n.ki.key, key) < 0; n = x.next[i] {
			x = n
		}
		if prev != nil {
			prev[i] = x
		}
	}
	return x.next[0]
}

// seek returns the first node whose key is >= key.
func (l *skiplist) seek(key []byte) *slNode { return l.findGE(key, nil) }

// first returns the smallest node.
func (l *skiplist) first() *slNode { return l.head.next[0] }

// insert adds ki; its key must not be present.
func (l *skiplist) insert(ki *keyIndex) {
	var prev [maxLevel]*slNode
	l.findGE(ki.key, &prev)
	lvl := 1
	for r := l.rnd.Uint64(); lvl < maxLevel && r&3 == 0; r >>= 2 {
		lvl++
	}
	for i := l.level; i < lvl; i++ {
		prev[i] = &l.head
	}
	if lvl > l.level {
		l.level = lvl
	}
	n := &slNode{ki: ki}
	for i := 0; i < lvl; i++ {
		n.next[i] = prev[i].next[i]
		prev[i].next[i] = n
	}
	l.len++
}

// remove deletes the node with key, if present.
func (l *skiplist) remove(key []byte) {
	var prev [maxLevel]*slNode
	n := l.findGE(key, &prev)
	if n == nil || !bytes.Equal(n.ki.key, key) {
		return
	}
	for i := 0; i < l.level; i++ {
		if prev[i].next[i] == n {
			prev[i].next[i] = n.next[i]
		}
	}
	for l.level > 1 && l.head.next[l.level-1] == nil {
		l.level--
	}
	l.len--
}
