package adr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// crashRun is one power-loss run over a ring on a Sim: a single writer
// appends records of random sizes, releasing the oldest when the ring is
// full and now and then otherwise, so the ring wraps many times with TAIL
// right behind HEAD. Before a random share of the Flush and Fence calls
// take effect the hook takes a crash image, reopens a ring on it and
// checks it against what had been acknowledged at that instant.
type crashRun struct {
	rng   *rand.Rand
	sizes []int // payload size of record k

	// At the instant of a crash: records 0..acked-1 were acknowledged
	// (Append returned) and record acked may be in flight; records below
	// released were given back (Release returned) and those below
	// releasing may be (a Release is in flight).
	acked, released, releasing uint64

	crashes, failures int
	first             string
}

var keeps = []float64{0, 0.5, 1}

// powerLoss runs the workload with the given protocol step left out until
// it has taken crashes crash images, or (with stopAtFailure) until one of
// them fails the check.
func powerLoss(t *testing.T, skip step, seed int64, crashes int, stopAtFailure bool) *crashRun {
	t.Helper()
	c := &crashRun{rng: rand.New(rand.NewSource(seed))}
	s := NewSim(testRegionSize)
	g := openRing(t, s)
	g.skip = skip
	done := func() bool { return c.crashes >= crashes || stopAtFailure && c.failures > 0 }
	s.SetHook(func(op SimOp) {
		if done() || c.rng.Intn(3) != 0 {
			return
		}
		keep := keeps[c.crashes%len(keeps)]
		img := s.Crash(c.rng, keep)
		c.crashes++
		if err := c.check(img); err != nil {
			c.failures++
			if c.first == "" {
				c.first = fmt.Sprintf("crash %d (op %d, fence %v, keep %.1f): %v", c.crashes, op.N, op.Fence, keep, err)
			}
		}
	})
	var ends []uint64 // end offsets of the records released..acked-1
	release := func(n int) {
		n = min(n, len(ends))
		if n == 0 {
			return
		}
		c.releasing = c.released + uint64(n)
		must(t, g.Release(ends[n-1]))
		ends = ends[n:]
		c.released = c.releasing
	}
	for ops := 0; !done(); ops++ {
		if ops > 1_000_000 {
			t.Fatalf("only %d crash images after %d appends", c.crashes, ops)
		}
		k := uint64(len(c.sizes))
		// At least 8 bytes, so that every record names itself.
		size := 8 + c.rng.Intn(600)
		if c.rng.Intn(10) == 0 {
			size = 8 + c.rng.Intn(g.MaxPayload()-7)
		}
		c.sizes = append(c.sizes, size)
		end, err := g.Append(payloadOf(k, size)[:size])
		for errors.Is(err, ErrRingFull) {
			release(1 + c.rng.Intn(3))
			end, err = g.Append(payloadOf(k, size)[:size])
		}
		must(t, err)
		c.acked++
		ends = append(ends, end)
		if c.rng.Intn(8) == 0 {
			release(1 + c.rng.Intn(4))
		}
	}
	s.SetHook(nil)
	return c
}

// check reopens img and compares what it holds with what was
// acknowledged: a contiguous run of whole records that starts at or
// before the oldest unreleased one and ends at the last acknowledged one
// or the one in flight.
func (c *crashRun) check(img []byte) error {
	g, err := OpenRing(SimFrom(img))
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	var got []uint64
	err = g.Scan(func(off, _ uint64, p []byte) error {
		if len(p) < 8 {
			return fmt.Errorf("record at %d: %d bytes, every one written had at least 8", off, len(p))
		}
		k := binary.LittleEndian.Uint64(p)
		if k >= uint64(len(c.sizes)) || !bytes.Equal(p, payloadOf(k, c.sizes[k])[:c.sizes[k]]) {
			return fmt.Errorf("record at %d is not record %d as written", off, k)
		}
		got = append(got, k)
		return nil
	})
	if err != nil {
		return err
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			return fmt.Errorf("records %d then %d", got[i-1], got[i])
		}
	}
	if c.releasing < c.acked {
		if len(got) == 0 {
			return fmt.Errorf("ring empty, records %d..%d acknowledged and kept", c.releasing, c.acked-1)
		}
		if got[0] > c.releasing {
			return fmt.Errorf("ring starts at record %d, %d acknowledged and kept", got[0], c.releasing)
		}
		if last := got[len(got)-1]; last < c.acked-1 {
			return fmt.Errorf("ring ends at record %d, %d acknowledged", last, c.acked-1)
		}
	}
	if len(got) > 0 && got[len(got)-1] > c.acked {
		return fmt.Errorf("ring ends at record %d, only %d acknowledged or in flight", got[len(got)-1], c.acked)
	}
	if _, err := g.Append(make([]byte, 64)); err != nil && !errors.Is(err, ErrRingFull) {
		return fmt.Errorf("append after recovery: %w", err)
	}
	return nil
}

// TestRingPowerLoss: thousands of power losses at random Flush and Fence
// instants lose no acknowledged record and never leave a corrupt ring.
func TestRingPowerLoss(t *testing.T) {
	const crashes = 6000
	c := powerLoss(t, stepNone, 1, crashes, false)
	t.Logf("%d crash images over %d records (%d released): %d failures", c.crashes, c.acked, c.released, c.failures)
	if c.failures > 0 {
		t.Fatalf("%d of %d crash images failed; first: %s", c.failures, c.crashes, c.first)
	}
}

// TestRingPowerLossNeedsEveryStep leaves out one flush or fence of the
// protocols at a time: the power-loss test must then find a lost
// acknowledged record or a corrupt ring, which proves that step needed.
func TestRingPowerLossNeedsEveryStep(t *testing.T) {
	for s := stepNone + 1; s < firstFormatStep; s++ {
		t.Run(s.String(), func(t *testing.T) {
			c := powerLoss(t, s, int64(s), 3000, true)
			if c.failures == 0 {
				t.Fatalf("without %q, %d crash images over %d records all recovered", s, c.crashes, c.acked)
			}
			t.Logf("without %q: failed after %d crash images over %d records: %s", s, c.crashes, c.acked, c.first)
		})
	}
}

// formatRun is a power-loss run over FormatRing: a region that held a
// ring of another log (wrapped, with records), nothing, or garbage is
// formatted for a new identity and one record is appended to the new
// ring; before every Flush and Fence takes effect the hook takes crash
// images, and each must hold the old ring untouched, the new ring (empty,
// or with only the record being appended), or, before FormatRing
// returned, no ring at all. Never the new identity over the old HEAD and
// TAIL (the old log's records handed to the new one), never the old ring
// damaged, never anything but the new ring once FormatRing returned.
type formatRun struct {
	rng               *rand.Rand
	crashes, failures int
	first             string
}

// formatStart is what a region holds before FormatRing.
type formatStart struct {
	name string
	// region returns the region and, when it holds a ring, that ring's
	// identity and records.
	region func(rng *rand.Rand) (s *Sim, old *Identity, records [][]byte)
}

func formatStarts() []formatStart {
	return []formatStart{
		{"another log's ring", func(rng *rand.Rand) (*Sim, *Identity, [][]byte) {
			s := NewSim(testRegionSize)
			id := Identity{Ring: UUID{0xee, byte(rng.Intn(256))}, Cluster: 0xc2, Member: 0x32, Drained: 5}
			g, err := FormatRing(s, id)
			if err != nil {
				panic(err)
			}
			var ends []uint64
			for k := uint64(0); k < 40 || len(ends) < 3; k++ {
				size := 8 + rng.Intn(300)
				end, err := g.Append(payloadOf(k, size)[:size])
				for errors.Is(err, ErrRingFull) {
					if err := g.Release(ends[0]); err != nil {
						panic(err)
					}
					ends = ends[1:]
					end, err = g.Append(payloadOf(k, size)[:size])
				}
				if err != nil {
					panic(err)
				}
				ends = append(ends, end)
			}
			var recs [][]byte
			if err := g.Scan(func(_, _ uint64, p []byte) error {
				recs = append(recs, bytes.Clone(p))
				return nil
			}); err != nil {
				panic(err)
			}
			if g.Head() == 0 || len(recs) == 0 {
				panic("the old ring neither wrapped nor kept records")
			}
			return s, &id, recs
		}},
		{"zero", func(*rand.Rand) (*Sim, *Identity, [][]byte) { return NewSim(testRegionSize), nil, nil }},
		{"garbage", func(rng *rand.Rand) (*Sim, *Identity, [][]byte) {
			img := make([]byte, testRegionSize)
			rng.Read(img)
			return SimFrom(img), nil, nil
		}},
	}
}

// formatPowerLoss formats regions of every start, rounds times each, with
// the given step left out, until crashes images were checked per start or
// (with stopAtFailure) one failed.
func formatPowerLoss(skip step, seed int64, rounds int, stopAtFailure bool) *formatRun {
	c := &formatRun{rng: rand.New(rand.NewSource(seed))}
	newID := Identity{Ring: UUID{0x11, 0x22}, Cluster: 0xc1, Member: 0x31, Drained: 9}
	for r := 0; r < rounds && !(stopAtFailure && c.failures > 0); r++ {
		for _, st := range formatStarts() {
			s, old, oldRecs := st.region(c.rng)
			returned := false
			var appended []byte
			s.SetHook(func(op SimOp) {
				for _, keep := range keeps {
					img := s.Crash(c.rng, keep)
					c.crashes++
					if err := checkFormatImage(img, old, oldRecs, newID, returned, appended); err != nil {
						c.failures++
						if c.first == "" {
							c.first = fmt.Sprintf("%s, op %d (fence %v), keep %.1f, format returned %v: %v", st.name, op.N, op.Fence, keep, returned, err)
						}
					}
				}
			})
			g, err := formatRing(s, newID, skip)
			if err != nil {
				panic(err)
			}
			returned = true
			appended = payloadOf(1<<40, 64)
			if _, err := g.Append(appended); err != nil {
				panic(err)
			}
			s.SetHook(nil)
		}
	}
	return c
}

// checkFormatImage checks one crash image of a FormatRing (see formatRun).
func checkFormatImage(img []byte, old *Identity, oldRecs [][]byte, newID Identity, returned bool, appended []byte) error {
	s := SimFrom(img)
	c := Inspect(s)
	records := func() ([][]byte, error) {
		g, err := OpenRing(s)
		if err != nil {
			return nil, err
		}
		var recs [][]byte
		err = g.Scan(func(_, _ uint64, p []byte) error {
			recs = append(recs, bytes.Clone(p))
			return nil
		})
		return recs, err
	}
	switch {
	case c.Kind == ContentRing && c.Identity == newID:
		recs, err := records()
		if err != nil {
			return fmt.Errorf("the new ring does not open: %w", err)
		}
		if len(recs) > 1 || len(recs) == 1 && !bytes.Equal(recs[0], appended) {
			return fmt.Errorf("the new ring holds %d records it was never given", len(recs))
		}
	case returned:
		return fmt.Errorf("FormatRing returned, the region holds %s", c.Describe())
	case c.Kind == ContentRing && old != nil && c.Identity == *old:
		recs, err := records()
		if err != nil {
			return fmt.Errorf("the old ring is damaged: %w", err)
		}
		if len(recs) != len(oldRecs) {
			return fmt.Errorf("the old ring holds %d records, it held %d", len(recs), len(oldRecs))
		}
		for k := range recs {
			if !bytes.Equal(recs[k], oldRecs[k]) {
				return fmt.Errorf("the old ring's record %d changed", k)
			}
		}
	case c.Kind == ContentRing:
		return fmt.Errorf("a ring that was never formatted: %v", c.Identity)
	}
	return nil
}

// TestRingFormatPowerLoss: power losses at every Flush and Fence of
// FormatRing, over a region that held another log's ring, nothing, or
// garbage, never hand the old ring's records to the new log, never damage
// the old ring, and leave the new ring in place once FormatRing returned.
func TestRingFormatPowerLoss(t *testing.T) {
	c := formatPowerLoss(stepNone, 1, 150, false)
	t.Logf("%d crash images over %d formats: %d failures", c.crashes, 150*len(formatStarts()), c.failures)
	if c.failures > 0 {
		t.Fatalf("%d of %d crash images failed; first: %s", c.failures, c.crashes, c.first)
	}
}

// TestRingFormatNeedsEveryStep leaves out one flush or fence of the
// format protocol at a time: the format power-loss test must then fail.
func TestRingFormatNeedsEveryStep(t *testing.T) {
	for s := firstFormatStep; s < numSteps; s++ {
		t.Run(s.String(), func(t *testing.T) {
			c := formatPowerLoss(s, int64(s), 150, true)
			if c.failures == 0 {
				t.Fatalf("without %q, %d crash images all passed", s, c.crashes)
			}
			t.Logf("without %q: failed after %d crash images: %s", s, c.crashes, c.first)
		})
	}
}
