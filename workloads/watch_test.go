package workloads

import (
	"testing"
	"time"
)

func TestWatchHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		writer int
		seq    uint64
		sent   time.Time
	}{
		{name: "zero", writer: 0, seq: 0, sent: time.Unix(0, 1)},
		{name: "now", writer: 7, seq: 123456, sent: time.Now()},
		{name: "large", writer: 1<<31 - 1, seq: 1<<63 + 5, sent: time.Date(2200, 1, 1, 0, 0, 0, 999, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := appendWatchHeader(nil, tc.writer, tc.seq, tc.sent)
			if len(v) != WatchHeaderSize {
				t.Fatalf("header of %d bytes, want %d", len(v), WatchHeaderSize)
			}
			got, ok := ParseWatchValue(append(v, "padding"...))
			if !ok || got.Writer != tc.writer || got.Seq != tc.seq || !got.Sent.Equal(tc.sent) {
				t.Fatalf("parsed %+v, %v; want writer %d seq %d sent %v", got, ok, tc.writer, tc.seq, tc.sent)
			}
		})
	}
}

func TestParseWatchValueRejects(t *testing.T) {
	tests := []struct{ name, v string }{
		{"fence", WatchFence},
		{"short", "00000001"},
		{"upper-case hex", "0000000A00000000000000010000000000000001"},
		{"not hex", "zzzzzzzz00000000000000010000000000000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := ParseWatchValue([]byte(tc.v)); ok {
				t.Fatalf("ParseWatchValue(%q) accepted it", tc.v)
			}
		})
	}
}

func TestWatchPutsInRange(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.KeySpace, c.ValSize = Watch, 1000, 100
	w, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	key, end := w.WatchRange()
	if fk := w.WatchFenceKey(); fk < key || fk >= end {
		t.Errorf("fence key %q outside [%q, %q)", fk, key, end)
	}
	wk := w.Worker(3)
	for range 1000 {
		op := wk.Next().(*watchPutOp)
		if op.key < key || op.key >= end {
			t.Fatalf("key %q outside [%q, %q)", op.key, key, end)
		}
		if WatchHeaderSize+len(op.pad) != c.ValSize {
			t.Fatalf("value of %d bytes, want %d", WatchHeaderSize+len(op.pad), c.ValSize)
		}
	}
	// Next alone sends nothing: the ledger counts puts when they are done.
	if l := w.WatchLedger(); l.Issued[3] != 0 || len(l.Failed) != 0 {
		t.Errorf("ledger %+v before any put was sent", l)
	}
}

func TestLeaseRevokeShare(t *testing.T) {
	tests := []struct {
		name     string
		revoke   float64
		min, max float64
	}{
		{"never", 0, 0, 0},
		{"half", 0.5, 0.45, 0.55},
		{"always", 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Name, c.LeaseRevoke = Lease, tc.revoke
			w, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			wk := w.Worker(0)
			const n = 4000
			var revoked int
			for range n {
				if wk.Next().(*leaseOp).revoke {
					revoked++
				}
			}
			if got := float64(revoked) / n; got < tc.min || got > tc.max {
				t.Errorf("%.3f of leases revoked, want in [%.2f, %.2f]", got, tc.min, tc.max)
			}
		})
	}
}
