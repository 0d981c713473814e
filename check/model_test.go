package check

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// hist builds a history from compact ops: each is (kind, key, value or
// output, call, return, status), times in arbitrary units.
type hop struct {
	kind, key string
	value     string // put/cas: written; get: read
	expect    string // cas
	found     string // cas that did not swap
	swapped   bool
	call, ret int64
	status    string
	client    int
}

func history(hops []hop) []Op {
	var ops []Op
	for _, h := range hops {
		o := Op{Client: h.client, Kind: h.kind, Key: h.key, Call: h.call, Return: h.ret, Status: h.status, Expect: h.expect, Swapped: h.swapped}
		if o.Status == "" {
			o.Status = StatusOK
		}
		switch h.kind {
		case OpGet, OpTxnGet:
			o.Output = h.value
		case OpCAS:
			o.Value, o.Output = h.value, h.found
		default:
			o.Value = h.value
		}
		ops = append(ops, o)
	}
	return ops
}

// TestModelChecksHandMadeHistories runs porcupine with the model on small
// histories whose verdict is known.
func TestModelChecksHandMadeHistories(t *testing.T) {
	tests := []struct {
		name string
		ops  []hop
		want bool
	}{
		{"put then get", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpGet, key: "a", value: "1", call: 20, ret: 30, client: 1},
		}, true},
		{"stale read after the put returned", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 30},
			{kind: OpGet, key: "a", value: "1", call: 40, ret: 50, client: 1},
		}, false},
		{"read concurrent with a put sees either value", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 50},
			{kind: OpGet, key: "a", value: "1", call: 25, ret: 30, client: 1},
			{kind: OpGet, key: "a", value: "2", call: 35, ret: 40, client: 2},
		}, true},
		{"a read-only txn reads stale after the put returned", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 30},
			{kind: OpTxnGet, key: "a", value: "1", call: 40, ret: 50, client: 1},
		}, false},
		{"a read-only txn and a get agree", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpTxnGet, key: "a", value: "1", call: 20, ret: 30, client: 1},
			{kind: OpGet, key: "a", value: "1", call: 40, ret: 50, client: 2},
		}, true},
		{"reads going back in time", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 80},
			{kind: OpGet, key: "a", value: "2", call: 25, ret: 30, client: 1},
			{kind: OpGet, key: "a", value: "1", call: 35, ret: 40, client: 2},
		}, false},
		{"a value nobody wrote", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpGet, key: "a", value: "9", call: 20, ret: 30, client: 1},
		}, false},
		{"a missing key reads as none", []hop{
			{kind: OpGet, key: "a", value: "", call: 0, ret: 10},
		}, true},
		{"an indeterminate put that happened", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10, status: StatusIndeterminate},
			{kind: OpGet, key: "a", value: "1", call: 100, ret: 110, client: 1},
		}, true},
		{"an indeterminate put that never happened", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 30, status: StatusIndeterminate},
			{kind: OpGet, key: "a", value: "1", call: 100, ret: 110, client: 1},
		}, true},
		{"an indeterminate put cannot unhappen", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "2", call: 20, ret: 30, status: StatusIndeterminate},
			{kind: OpGet, key: "a", value: "2", call: 100, ret: 110, client: 1},
			{kind: OpGet, key: "a", value: "1", call: 120, ret: 130, client: 1},
		}, false},
		{"an indeterminate put read before it was called", []hop{
			{kind: OpGet, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "a", value: "1", call: 20, ret: 30, status: StatusIndeterminate},
		}, false},
		{"a failed read is ignored", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpGet, key: "a", value: "garbage", call: 20, ret: 30, status: StatusFailed, client: 1},
		}, true},
		{"cas swaps what it expects", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "1", value: "2", swapped: true, call: 20, ret: 30},
			{kind: OpGet, key: "a", value: "2", call: 40, ret: 50, client: 1},
		}, true},
		{"cas on a missing key", []hop{
			{kind: OpCAS, key: "a", expect: "", value: "1", swapped: true, call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "", value: "2", found: "1", call: 20, ret: 30},
		}, true},
		{"cas swapped what it did not expect", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "7", value: "2", swapped: true, call: 20, ret: 30},
		}, false},
		{"cas refused although the value matched", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "1", value: "2", found: "1", call: 20, ret: 30},
		}, false},
		{"two swaps of the same value", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "1", value: "2", swapped: true, call: 20, ret: 40},
			{kind: OpCAS, key: "a", expect: "1", value: "3", swapped: true, call: 20, ret: 40, client: 1},
		}, false},
		{"an indeterminate cas that swapped", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "1", value: "2", call: 20, ret: 30, status: StatusIndeterminate},
			{kind: OpGet, key: "a", value: "2", call: 40, ret: 50, client: 1},
		}, true},
		{"an indeterminate cas whose compare failed cannot swap", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpCAS, key: "a", expect: "7", value: "2", call: 20, ret: 30, status: StatusIndeterminate},
			{kind: OpGet, key: "a", value: "2", call: 40, ret: 50, client: 1},
		}, false},
		{"keys are independent", []hop{
			{kind: OpPut, key: "a", value: "1", call: 0, ret: 10},
			{kind: OpPut, key: "b", value: "1", call: 0, ret: 10},
			{kind: OpGet, key: "a", value: "1", call: 20, ret: 30, client: 1},
			{kind: OpGet, key: "b", value: "", call: 20, ret: 30, client: 1},
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := porcupine.CheckOperationsTimeout(kvModel(), porcupineHistory(history(tc.ops)), 10*time.Second)
			want := porcupine.Illegal
			if tc.want {
				want = porcupine.Ok
			}
			if res != want {
				t.Fatalf("porcupine says %s, want %s", res, want)
			}
		})
	}
}

func TestPorcupineHistory(t *testing.T) {
	ops := history([]hop{
		{kind: OpGet, key: "a", call: 1, ret: 2, status: StatusFailed, client: 7},
		// Observed by the get and the cas below: it happened, before 60.
		{kind: OpPut, key: "a", value: "1", call: 3, ret: 4, status: StatusIndeterminate, client: 7},
		// Never observed: left out.
		{kind: OpPut, key: "a", value: "2", call: 5, ret: 6, status: StatusIndeterminate, client: 8},
		// Observed through the swap that replaced it.
		{kind: OpCAS, key: "a", value: "3", expect: "1", call: 7, ret: 8, status: StatusIndeterminate, client: 9},
		// Observed only before it was called.
		{kind: OpPut, key: "b", value: "4", call: 200, ret: 210, status: StatusIndeterminate, client: 10},
		{kind: OpGet, key: "b", value: "4", call: 40, ret: 50, client: 14},
		{kind: OpGet, key: "a", value: "1", call: 50, ret: 60, client: 14},
		{kind: OpCAS, key: "a", value: "5", expect: "3", call: 70, ret: 80, swapped: true, client: 14},
		{kind: OpGet, key: "a", value: "1", call: 90, ret: 95, client: 15},
	})
	got := porcupineHistory(ops)
	type want struct {
		value  string
		ret    int64
		output kvOutput
		client int
	}
	wants := []want{
		{"1", 60, kvOutput{}, 0},
		{"3", 80, kvOutput{Swapped: true}, 1},
		{"4", math.MaxInt64, kvOutput{Unknown: true}, 2},
		{"", 50, kvOutput{Value: "4"}, 3},
		{"", 60, kvOutput{Value: "1"}, 3},
		{"5", 80, kvOutput{Swapped: true}, 3},
		{"", 95, kvOutput{Value: "1"}, 4},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d operations, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Input.(kvInput).Value != w.value || g.Return != w.ret || g.Output.(kvOutput) != w.output || g.ClientId != w.client {
			t.Errorf("operation %d: %+v, want value %q returning %d with %+v, client %d", i, g, w.value, w.ret, w.output, w.client)
		}
	}
}

func TestCountOps(t *testing.T) {
	c := countOps(history([]hop{
		{kind: OpGet, status: StatusFailed},
		{kind: OpPut, status: StatusIndeterminate},
		{kind: OpCAS, swapped: true},
		{kind: OpCAS},
		{kind: OpGet},
		{kind: OpTxnGet},
	}))
	want := "6 (ok 4, failed 1, indeterminate 1): get 2, txn-get 1, put 1, cas 2 (1 swapped)"
	if c.String() != want {
		t.Fatalf("counts %q, want %q", c, want)
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"the usual three", "kill,pause,partition", []string{"kill", "pause", "partition"}, nil},
		{"spaces and repeats", " kill , kill,stall-leader", []string{"kill", "stall-leader"}, nil},
		{"unknown", "kill,meteor", nil, ErrUnknownFault},
		{"empty", " , ", nil, ErrUnknownFault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFaults(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseFaults(%q): %v, want %v", tc.in, err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ParseFaults(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ParseFaults(%q) = %q, want %q", tc.in, got, tc.want)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *Config)
		err  error
	}{
		{"default", func(c *Config) {}, nil},
		{"etcd", func(c *Config) { c.Cluster.Target = "etcd" }, nil},
		{"inproc", func(c *Config) { c.Cluster.Target = "inproc" }, ErrConfig},
		{"no faults", func(c *Config) { c.Faults = nil }, ErrConfig},
		{"unknown fault", func(c *Config) { c.Faults = []string{"meteor"} }, ErrUnknownFault},
		{"partition of one member", func(c *Config) { c.Cluster.Nodes = 1 }, ErrConfig},
		{"kill of one member", func(c *Config) { c.Cluster.Nodes, c.Faults = 1, []string{"kill"} }, nil},
		{"no duration", func(c *Config) { c.Duration = 0 }, ErrConfig},
		{"no clients", func(c *Config) { c.Clients = 0 }, ErrConfig},
		{"no keys", func(c *Config) { c.Keys = 0 }, ErrConfig},
		{"no op timeout", func(c *Config) { c.OpTimeout = 0 }, ErrConfig},
		{"no hold", func(c *Config) { c.FaultHold = 0 }, ErrConfig},
		{"negative gap", func(c *Config) { c.FaultGap = -1 }, ErrConfig},
		{"no recovery time", func(c *Config) { c.Recover = 0 }, ErrConfig},
		{"no check time", func(c *Config) { c.CheckTimeout = 0 }, ErrConfig},
		{"no run directory", func(c *Config) { c.Out = "" }, ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Cluster.LogBackend, c.Out = "batched", t.TempDir()
			tc.set(&c)
			if err := c.Validate(); !errors.Is(err, tc.err) {
				t.Fatalf("Validate: %v, want %v", err, tc.err)
			}
		})
	}
}
