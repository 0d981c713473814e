package check

import (
	"fmt"
	"math"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// Operation kinds.
const (
	OpGet = "get" // a linearizable read of one key
	// OpTxnGet is a linearizable read of one key inside a transaction that
	// writes nothing, which etcd and the store serve after ReadIndex
	// without raft.
	OpTxnGet = "txn-get"
	OpPut    = "put" // a put of a unique value
	OpCAS    = "cas" // a compare-and-set txn: if the key holds Expect, put Value, else read it
)

// Outcomes of an operation.
const (
	// StatusOK is an operation the server answered.
	StatusOK = "ok"
	// StatusFailed is an operation that failed and cannot have taken
	// effect: a read (which changes nothing) that got no answer.
	StatusFailed = "failed"
	// StatusIndeterminate is a write that got no answer (an error or a
	// timeout): it may have taken effect, at any time after its call.
	StatusIndeterminate = "indeterminate"
)

// Op is one operation of the history, with its times in nanoseconds since
// the clients started.
type Op struct {
	// Client is the logical client: a client whose write ended
	// indeterminate continues as a new one, since its operation may still
	// be in flight. Worker is the goroutine, Member the member it talks
	// to.
	Client int `json:"client"`
	Worker int `json:"worker"`
	Member int `json:"member"`

	Kind string `json:"kind"`
	Key  string `json:"key"`
	// Value is what a put or a cas writes; Expect is what a cas compares
	// with ("" for a key that does not exist).
	Value  string `json:"value,omitempty"`
	Expect string `json:"expect,omitempty"`

	Call   int64  `json:"call_ns"`
	Return int64  `json:"return_ns"`
	Status string `json:"status"`
	// Output is what a get read, or what a cas that did not swap found
	// ("" for a key that does not exist).
	Output  string `json:"output,omitempty"`
	Swapped bool   `json:"swapped,omitempty"`
	// Revision is the store revision of an acknowledged write.
	Revision int64  `json:"revision,omitempty"`
	Error    string `json:"error,omitempty"`
}

// isRead reports whether an operation of kind only reads.
func isRead(kind string) bool { return kind == OpGet || kind == OpTxnGet }

// wrote reports whether the op is an acknowledged write: what the cluster
// must keep.
func (o Op) wrote() bool {
	return o.Status == StatusOK && (o.Kind == OpPut || (o.Kind == OpCAS && o.Swapped))
}

// OpCounts counts a history's operations by outcome and kind.
type OpCounts struct {
	Total         int            `json:"total"`
	OK            int            `json:"ok"`
	Failed        int            `json:"failed"`
	Indeterminate int            `json:"indeterminate"`
	ByKind        map[string]int `json:"by_kind"`
	// Swapped counts the acknowledged cas operations that swapped.
	Swapped int `json:"swapped"`
}

func countOps(ops []Op) OpCounts {
	c := OpCounts{ByKind: map[string]int{}}
	for _, o := range ops {
		c.Total++
		c.ByKind[o.Kind]++
		switch o.Status {
		case StatusOK:
			c.OK++
			if o.Kind == OpCAS && o.Swapped {
				c.Swapped++
			}
		case StatusFailed:
			c.Failed++
		case StatusIndeterminate:
			c.Indeterminate++
		}
	}
	return c
}

func (c OpCounts) String() string {
	return fmt.Sprintf("%d (ok %d, failed %d, indeterminate %d): get %d, txn-get %d, put %d, cas %d (%d swapped)",
		c.Total, c.OK, c.Failed, c.Indeterminate, c.ByKind[OpGet], c.ByKind[OpTxnGet], c.ByKind[OpPut], c.ByKind[OpCAS], c.Swapped)
}

// kvInput and kvOutput are an operation as the model sees it.
type kvInput struct {
	Kind, Key, Value, Expect string
}

type kvOutput struct {
	// Value is what a get read, or what a cas that did not swap found.
	Value   string
	Swapped bool
	// Unknown marks an indeterminate write: it took effect or it did not.
	Unknown bool
}

// porcupineHistory turns ops into porcupine's operations. A failed read
// changed nothing and is left out. An indeterminate write is settled by
// what the other operations saw, which is sound because every value is
// written once: if an acknowledged operation observed its value (a get or
// a cas that found it, a cas that swapped it out), it happened, before the
// earliest such operation returned, so it becomes a completed write that
// returns then; if none did, it is left out, since a write nobody observed
// can always be linearized last, where it changes nothing, and placing it
// anywhere else only constrains the others. Only a write observed before
// it was even called stays indeterminate, returning at infinity, and
// porcupine reports the impossible read. Leaving every indeterminate write
// open instead makes the search exponential in their number. Clients are
// numbered densely in order of appearance, as the visualization wants.
func porcupineHistory(ops []Op) []porcupine.Operation {
	seen := observations(ops)
	ids := map[int]int{}
	var out []porcupine.Operation
	for _, o := range ops {
		ret := o.Return
		output := kvOutput{Value: o.Output, Swapped: o.Swapped}
		switch o.Status {
		case StatusFailed:
			continue
		case StatusIndeterminate:
			at, ok := seen[o.Value]
			switch {
			case !ok:
				continue
			case at >= o.Call:
				ret, output = at, kvOutput{Swapped: o.Kind == OpCAS}
			default:
				ret, output = math.MaxInt64, kvOutput{Unknown: true}
			}
		}
		id, ok := ids[o.Client]
		if !ok {
			id = len(ids)
			ids[o.Client] = id
		}
		out = append(out, porcupine.Operation{
			ClientId: id,
			Input:    kvInput{Kind: o.Kind, Key: o.Key, Value: o.Value, Expect: o.Expect},
			Call:     o.Call,
			Output:   output,
			Return:   ret,
			Metadata: "member " + strconv.Itoa(o.Member),
		})
	}
	return out
}

// observations maps every value an acknowledged operation observed to
// the earliest return of one that did.
func observations(ops []Op) map[string]int64 {
	seen := map[string]int64{}
	note := func(v string, at int64) {
		if v == "" {
			return
		}
		if t, ok := seen[v]; !ok || at < t {
			seen[v] = at
		}
	}
	for _, o := range ops {
		if o.Status != StatusOK {
			continue
		}
		switch {
		case isRead(o.Kind), o.Kind == OpCAS && !o.Swapped:
			note(o.Output, o.Return)
		case o.Kind == OpCAS:
			note(o.Expect, o.Return)
		}
	}
	return seen
}
