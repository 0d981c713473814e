package check

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/anishathalye/porcupine"
)

// kvModel is the sequential specification the history is checked
// against: a map of registers, checked one key at a time (porcupine's
// partitions), since operations on different keys never constrain each
// other. The state of one key is its value, "" while it does not exist
// (the workload never writes ""). A get must read the state; a put sets
// it; a cas swaps only if the state is what it expects, and otherwise
// reads the state. An indeterminate write (what porcupineHistory leaves
// of them) is taken to happen when it is linearized, and porcupine may
// linearize it after everything else, which is as if it never happened.
func kvModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		Init:      func() any { return "" },
		Step: func(state, input, output any) (bool, any) {
			return step(state.(string), input.(kvInput), output.(kvOutput))
		},
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(state.(string)))
			return h.Sum64()
		},
		DescribeOperation: describeOp,
		DescribeState: func(state any) string {
			if state.(string) == "" {
				return "(none)"
			}
			return fmt.Sprintf("%q", state)
		},
	}
}

func step(state string, in kvInput, out kvOutput) (bool, string) {
	switch in.Kind {
	case OpGet, OpTxnGet:
		return out.Value == state, state
	case OpPut:
		return true, in.Value
	case OpCAS:
		holds := state == in.Expect
		switch {
		case out.Unknown:
			if holds {
				return true, in.Value
			}
			return true, state
		case out.Swapped:
			return holds, in.Value
		default:
			return !holds && out.Value == state, state
		}
	}
	return false, state
}

// partitionByKey splits a history into one per key, in a stable order.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(kvInput).Key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

func describeOp(input, output any) string {
	in, out := input.(kvInput), output.(kvOutput)
	show := func(v string) string {
		if v == "" {
			return "(none)"
		}
		return fmt.Sprintf("%q", v)
	}
	switch in.Kind {
	case OpGet, OpTxnGet:
		return fmt.Sprintf("%s(%s) -> %s", in.Kind, in.Key, show(out.Value))
	case OpPut:
		if out.Unknown {
			return fmt.Sprintf("put(%s, %s) -> ?", in.Key, show(in.Value))
		}
		return fmt.Sprintf("put(%s, %s)", in.Key, show(in.Value))
	case OpCAS:
		call := fmt.Sprintf("cas(%s, %s -> %s)", in.Key, show(in.Expect), show(in.Value))
		switch {
		case out.Unknown:
			return call + " -> ?"
		case out.Swapped:
			return call + " -> swapped"
		default:
			return call + " -> found " + show(out.Value)
		}
	}
	return fmt.Sprintf("%v -> %v", in, out)
}
