package harness

import (
	"fmt"

	"github.com/adrbench/adrbench/logbackends"
)

// unsafeReason says why a point is unsafe: its members run one of our log
// backends that does not keep raft's stable-storage rule (its registry
// entry is not Durable), or one whose entry is not in backends, whose
// durability is then unknown. It is "" for a durable backend and for
// members that are not ours (real etcd, an external cluster).
func unsafeReason(target, backend string, backends *logbackends.Registry) string {
	if target != TargetInproc && target != TargetProcess {
		return ""
	}
	if backends == nil {
		return fmt.Sprintf("log backend %q: durability unknown (no backend registry)", backend)
	}
	e, err := backends.Lookup(backend)
	if err != nil {
		return fmt.Sprintf("durability unknown: %v", err)
	}
	if e.Durable {
		return ""
	}
	return fmt.Sprintf("%s is not durable: %s", e.Name, e.Saved)
}
