package adr

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"testing"
)

func TestSimCrash(t *testing.T) {
	word := func(img []byte, off int) uint64 { return binary.LittleEndian.Uint64(img[off:]) }
	tests := []struct {
		name string
		// do stores 1 at offset 0 and acts on the region; want is what
		// word 0 may be after a crash with the given keep.
		do   func(s *Sim)
		keep float64
		want []uint64
	}{
		{"stored, not flushed, keep 0", func(s *Sim) {}, 0, []uint64{0}},
		{"stored, not flushed, keep 1", func(s *Sim) {}, 1, []uint64{1}},
		{"flushed, not fenced, keep 0", func(s *Sim) { s.Flush(0, 8) }, 0, []uint64{0}},
		{"flushed and fenced, keep 0", func(s *Sim) { Persist(s, 0, 8) }, 0, []uint64{1}},
		{"fenced without flush, keep 0", func(s *Sim) { s.Fence() }, 0, []uint64{0}},
		{"flushed, then stored again, fenced", func(s *Sim) {
			s.Flush(0, 8)
			binary.LittleEndian.PutUint64(s.Bytes(), 2)
			s.Fence()
		}, 0, []uint64{1}},
		{"flushed, stored again, not fenced, keep 1", func(s *Sim) {
			s.Flush(0, 8)
			binary.LittleEndian.PutUint64(s.Bytes(), 2)
		}, 1, []uint64{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			seen := map[uint64]bool{}
			for i := 0; i < 64; i++ {
				s := NewSim(2 * LineSize)
				binary.LittleEndian.PutUint64(s.Bytes(), 1)
				tc.do(s)
				seen[word(s.Crash(rng, tc.keep), 0)] = true
			}
			for v := range seen {
				ok := false
				for _, w := range tc.want {
					ok = ok || v == w
				}
				if !ok {
					t.Fatalf("word 0 = %d after crash, want one of %v", v, tc.want)
				}
			}
			if len(seen) != len(tc.want) {
				t.Fatalf("crash images held %v, want every one of %v", seen, tc.want)
			}
		})
	}
}

// TestSimCrashTearsAtWords checks that an unflushed line survives in part,
// word by word, never with a word torn.
func TestSimCrashTearsAtWords(t *testing.T) {
	s := NewSim(LineSize)
	for w := 0; w < LineSize; w += 8 {
		binary.LittleEndian.PutUint64(s.Bytes()[w:], ^uint64(0))
	}
	rng := rand.New(rand.NewSource(2))
	partial := false
	for i := 0; i < 32; i++ {
		img := s.Crash(rng, 0.5)
		kept := 0
		for w := 0; w < LineSize; w += 8 {
			switch binary.LittleEndian.Uint64(img[w:]) {
			case ^uint64(0):
				kept++
			case 0:
			default:
				t.Fatalf("word at %d torn: %x", w, img[w:w+8])
			}
		}
		partial = partial || (kept > 0 && kept < LineSize/8)
	}
	if !partial {
		t.Fatal("no crash image kept part of a line")
	}
}

func TestSimHookAndRestart(t *testing.T) {
	s := NewSim(LineSize)
	var ops []SimOp
	s.SetHook(func(op SimOp) { ops = append(ops, op) })
	copy(s.Bytes(), "persisted")
	Persist(s, 0, 9)
	if len(ops) != 2 || ops[0].Fence || !ops[1].Fence || ops[1].N != 1 || ops[0].Len != 9 {
		t.Fatalf("hook saw %+v", ops)
	}
	r := SimFrom(s.Crash(rand.New(rand.NewSource(3)), 0))
	if !bytes.HasPrefix(r.Bytes(), []byte("persisted")) {
		t.Fatalf("restarted region holds %q", r.Bytes()[:9])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}

// TestSimCrashFenced: an image from what Flush and Fence reached never
// holds a store no Flush took, whatever keep says.
func TestSimCrashFenced(t *testing.T) {
	tests := []struct {
		name string
		// do stores 1 at offset 0 and acts on the region; want is what
		// word 0 may be in the image with the given keep.
		do   func(s *Sim)
		keep float64
		want []uint64
	}{
		{"stored, not flushed, keep 1", func(s *Sim) {}, 1, []uint64{0}},
		{"flushed, not fenced, keep 0", func(s *Sim) { s.Flush(0, 8) }, 0, []uint64{0}},
		{"flushed, not fenced, keep 0.5", func(s *Sim) { s.Flush(0, 8) }, 0.5, []uint64{0, 1}},
		{"flushed, stored again, not fenced, keep 1", func(s *Sim) {
			s.Flush(0, 8)
			binary.LittleEndian.PutUint64(s.Bytes(), 2)
		}, 1, []uint64{1}},
		{"flushed and fenced, keep 0", func(s *Sim) { Persist(s, 0, 8) }, 0, []uint64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			seen := map[uint64]bool{}
			for i := 0; i < 64; i++ {
				s := NewSim(2 * LineSize)
				binary.LittleEndian.PutUint64(s.Bytes(), 1)
				tc.do(s)
				seen[binary.LittleEndian.Uint64(s.CrashFenced(rng, tc.keep))] = true
			}
			if len(seen) != len(tc.want) {
				t.Fatalf("images held %v, want every one of %v", seen, tc.want)
			}
			for _, w := range tc.want {
				if !seen[w] {
					t.Fatalf("images held %v, want every one of %v", seen, tc.want)
				}
			}
		})
	}
}
