package adr

import (
	"errors"
	"testing"
	"time"
)

func TestWithMediaLatency(t *testing.T) {
	const perLine = 100 * time.Nanosecond
	tests := []struct {
		name    string
		flushes [][2]int // off, n
		want    []time.Duration
	}{
		{"fence without flush waits nothing", nil, nil},
		{"one line", [][2]int{{0, 8}}, []time.Duration{perLine}},
		{"range over three lines", [][2]int{{60, 130}}, []time.Duration{3 * perLine}},
		{"flushes add up until the fence", [][2]int{{0, 64}, {128, 4096 - 128}, {0, 0}}, []time.Duration{63 * perLine}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := NewSim(4096)
			r := WithMediaLatency(sim, perLine)
			var waits []time.Duration
			r.(*slowMedia).wait = func(d time.Duration) { waits = append(waits, d) }
			for _, f := range tc.flushes {
				r.Flush(f[0], f[1])
			}
			r.Fence()
			r.Fence() // nothing flushed since: no second wait
			if len(waits) != len(tc.want) {
				t.Fatalf("waits %v, want %v", waits, tc.want)
			}
			for i := range waits {
				if waits[i] != tc.want[i] {
					t.Fatalf("waits %v, want %v", waits, tc.want)
				}
			}
			if sim.Ops() != uint64(len(tc.flushes)+2) {
				t.Fatalf("the simulator saw %d ops, want every Flush and Fence forwarded", sim.Ops())
			}
		})
	}
}

func TestWithMediaLatencyInfoAndForwarding(t *testing.T) {
	sim := NewSim(4096)
	r := WithMediaLatency(sim, 250*time.Nanosecond)
	want := sim.Info()
	want.MediaLatency = 250 * time.Nanosecond
	if got := r.Info(); got != want {
		t.Fatalf("Info = %+v, want %+v", got, want)
	}
	if r.(interface{ Unwrap() Region }).Unwrap() != sim {
		t.Fatal("Unwrap does not return the simulator")
	}
	if err := r.(FenceChecker).FenceErr(); err != nil {
		t.Fatalf("FenceErr of a region that cannot fail = %v", err)
	}
	if &r.Bytes()[0] != &sim.Bytes()[0] {
		t.Fatal("Bytes is not the region's")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// TestSpinForWaitsAtLeast checks only the lower bound, which the monotonic
// clock guarantees; how much longer a loaded machine takes is not a test.
func TestSpinForWaitsAtLeast(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
	}{
		{"zero", 0},
		{"microseconds spin", 20 * time.Microsecond},
		{"milliseconds sleep then spin", 3 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			spinFor(tc.d)
			if got := time.Since(start); got < tc.d {
				t.Fatalf("spinFor(%v) returned after %v", tc.d, got)
			}
		})
	}
}
