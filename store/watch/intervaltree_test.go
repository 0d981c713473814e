package watch

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ivOracle is the interval tree written the obvious way: a map, scanned.
type ivOracle map[[2]string]int

// stab returns the values of the intervals holding key, in interval order.
func (o ivOracle) stab(key []byte) []int {
	var ivs [][2]string
	for iv := range o {
		if k := string(key); k >= iv[0] && (iv[1] == "" || k < iv[1]) {
			ivs = append(ivs, iv)
		}
	}
	slices.SortFunc(ivs, func(a, b [2]string) int {
		return compareInterval([]byte(a[0]), []byte(a[1]), []byte(b[0]), []byte(b[1]))
	})
	out := make([]int, len(ivs))
	for i, iv := range ivs {
		out[i] = o[iv]
	}
	return out
}

// stabbed returns the values stab gives for key, in order.
func stabbed(tr *intervalTree[int], key []byte) []int {
	var out []int
	tr.stab(key, func(v *int) { out = append(out, *v) })
	return out
}

// ivOp is one step of a random run: put (delete when del) the interval
// [start, end), then stab probe.
type ivOp struct {
	del        bool
	start, end []byte
	probe      []byte
}

// runIntervalOps applies ops to a tree and an oracle, and after each one
// checks the tree's shape and its answers against the oracle.
func runIntervalOps(t *testing.T, ops []ivOp) {
	t.Helper()
	var tr intervalTree[int]
	o := ivOracle{}
	refs := map[[2]string]*int{} // what ref returned for each interval
	for i, op := range ops {
		iv := [2]string{string(op.start), string(op.end)}
		if op.del {
			_, had := o[iv]
			delete(o, iv)
			delete(refs, iv)
			if got := tr.delete(op.start, op.end); got != had {
				t.Fatalf("op %d: delete [%q, %q) = %v, want %v", i, op.start, op.end, got, had)
			}
		} else {
			p := tr.ref(op.start, op.end)
			if *p != o[iv] {
				t.Fatalf("op %d: ref [%q, %q) holds %d, want %d", i, op.start, op.end, *p, o[iv])
			}
			if q, ok := refs[iv]; ok && q != p {
				t.Fatalf("op %d: the value of [%q, %q) moved", i, op.start, op.end)
			}
			*p = i + 1 // never the zero value a new interval starts with
			o[iv], refs[iv] = i+1, p
		}
		checkTree(t, i, &tr, o, refs)
		if got, want := stabbed(&tr, op.probe), o.stab(op.probe); !slices.Equal(got, want) {
			t.Fatalf("op %d: stab(%q) = %v, want %v (%d intervals)", i, op.probe, got, want, len(o))
		}
	}
}

// checkTree verifies the AVL and interval invariants of every node: keys
// in order, heights right and balanced, each node's largest end the
// largest of its subtree; and that the tree holds exactly the oracle's
// intervals, each value where ref said it was.
func checkTree(t *testing.T, op int, tr *intervalTree[int], o ivOracle, refs map[[2]string]*int) {
	t.Helper()
	var walk func(n *ivNode[int], lo, hi *ivNode[int]) (count int, height int32, maxEnd []byte)
	walk = func(n *ivNode[int], lo, hi *ivNode[int]) (int, int32, []byte) {
		if n == nil {
			return 0, 0, nil
		}
		if lo != nil && compareInterval(lo.start, lo.end, n.start, n.end) >= 0 ||
			hi != nil && compareInterval(n.start, n.end, hi.start, hi.end) >= 0 {
			t.Fatalf("op %d: [%q, %q) out of order", op, n.start, n.end)
		}
		iv := [2]string{string(n.start), string(n.end)}
		if want, ok := o[iv]; !ok || n.val != want || refs[iv] != &n.val {
			t.Fatalf("op %d: node [%q, %q) holds %d at %p, want %d at %p (in oracle: %v)", op, n.start, n.end, n.val, &n.val, want, refs[iv], ok)
		}
		lc, lh, lm := walk(n.left, lo, n)
		rc, rh, rm := walk(n.right, n, hi)
		if n.height != 1+max(lh, rh) || lh-rh > 1 || rh-lh > 1 {
			t.Fatalf("op %d: node [%q, %q) has height %d over subtrees of %d and %d", op, n.start, n.end, n.height, lh, rh)
		}
		m := n.end
		for _, c := range [][]byte{lm, rm} {
			if c != nil && compareEnd(c, m) > 0 {
				m = c
			}
		}
		if compareEnd(n.maxEnd, m) != 0 {
			t.Fatalf("op %d: node [%q, %q) has largest end %q, want %q", op, n.start, n.end, n.maxEnd, m)
		}
		return lc + rc + 1, n.height, m
	}
	if n, _, _ := walk(tr.root, nil, nil); n != len(o) || tr.len() != len(o) {
		t.Fatalf("op %d: tree holds %d intervals and says %d, want %d", op, n, tr.len(), len(o))
	}
}

// TestIntervalTreeMatchesOracle runs random puts and deletes of intervals
// over a small alphabet (so that intervals share starts and ends, nest and
// repeat, and unbounded ends are common) and checks every step.
func TestIntervalTreeMatchesOracle(t *testing.T) {
	for _, tt := range []struct {
		name   string
		keyLen int // keys of 1..keyLen bytes over "\x00ab\xff"
		ops    int
		delPct int
		seed   uint64
	}{
		{name: "dense", keyLen: 1, ops: 2000, delPct: 40, seed: 1},
		{name: "nested", keyLen: 3, ops: 3000, delPct: 30, seed: 2},
		{name: "growing", keyLen: 5, ops: 2000, delPct: 10, seed: 3},
		{name: "churn", keyLen: 2, ops: 4000, delPct: 50, seed: 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tt.seed, 0x6976))
			key := func() []byte {
				const alphabet = "\x00ab\xff"
				b := make([]byte, 1+rng.IntN(tt.keyLen))
				for i := range b {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
				return b
			}
			ops := make([]ivOp, tt.ops)
			var live [][2][]byte
			for i := range ops {
				op := ivOp{probe: key()}
				if len(live) > 0 && rng.IntN(100) < tt.delPct {
					j := rng.IntN(len(live))
					op.del, op.start, op.end = true, live[j][0], live[j][1]
					live = slices.Delete(live, j, j+1)
				} else {
					op.start = key()
					switch rng.IntN(4) {
					case 0:
						op.end = []byte{} // unbounded
					case 1:
						op.end = append(bytes.Clone(op.start), 0xff) // a prefix
					default:
						op.end = key() // may end at or before start: holds nothing
					}
					live = append(live, [2][]byte{op.start, op.end})
				}
				ops[i] = op
			}
			runIntervalOps(t, ops)
		})
	}
}

// TestIntervalTreeHeight inserts intervals in sorted order, the worst case
// for an unbalanced tree, then deletes every other one, and checks the
// height against the AVL bound.
func TestIntervalTreeHeight(t *testing.T) {
	var tr intervalTree[int]
	const n = 1 << 14
	key := func(i int) []byte { return fmt.Appendf(nil, "%08d", i) }
	for i := range n {
		*tr.ref(key(i), key(i+3)) = i
	}
	bound := func(n int) int32 { return int32(math.Floor(1.4405*math.Log2(float64(n+2)) - 0.3277)) }
	if h := tr.root.height; h > bound(n) {
		t.Fatalf("height %d after %d sorted puts, AVL bound %d", h, n, bound(n))
	}
	for i := 0; i < n; i += 2 {
		if !tr.delete(key(i), key(i+3)) {
			t.Fatalf("delete of interval %d found nothing", i)
		}
	}
	if h := tr.root.height; h > bound(n/2) {
		t.Fatalf("height %d after deleting half, AVL bound %d", h, bound(n/2))
	}
	if got := stabbed(&tr, key(101)); !slices.Equal(got, []int{99, 101}) {
		t.Fatalf("stab(%s) = %v, want [99 101]", key(101), got)
	}
}

// FuzzIntervalTree decodes operations from the input, four bytes each:
// flags (delete; unbounded end), start, end and probe, each a one- or
// two-byte key.
func FuzzIntervalTree(f *testing.F) {
	f.Add([]byte{0, 'a', 'c', 'b', 0, 'b', 'd', 'c', 1, 'a', 'c', 'a'})
	f.Add([]byte{2, 'a', 0, 'z', 2, 'b', 0, 'z', 3, 'a', 0, 'z', 0, 0, 0xff, 0})
	f.Add([]byte("\x00ab\x00\x00bc\x00\x00ac\x00\x01ab\x00\x00aa\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key := func(b byte) []byte {
			if b&0x80 != 0 {
				return []byte{'k', b &^ 0x80}
			}
			return []byte{b}
		}
		var ops []ivOp
		for ; len(data) >= 4; data = data[4:] {
			op := ivOp{del: data[0]&1 != 0, start: key(data[1]), end: key(data[2]), probe: key(data[3])}
			if data[0]&2 != 0 {
				op.end = []byte{}
			}
			ops = append(ops, op)
		}
		runIntervalOps(t, ops)
	})
}
