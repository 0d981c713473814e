package check

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ReportSchema names the layout of report.json.
const ReportSchema = "adrbench.check/v1"

// Verdicts of the linearizability check of a history.
const (
	VerdictLinearizable = "linearizable"
	VerdictViolation    = "not linearizable"
	// VerdictUnknown is a check that ran out of Config.CheckTimeout.
	VerdictUnknown = "unknown"
)

// Report is what a check found: the history's operations, the faults
// injected, whether the cluster recovered and kept every acknowledged
// write, and the verdict. It is written to the run directory as
// report.json.
type Report struct {
	Schema   string    `json:"schema"`
	Started  time.Time `json:"started"`
	Target   string    `json:"target"`
	Backend  string    `json:"backend,omitempty"`
	Nodes    int       `json:"nodes"`
	Faults   []string  `json:"faults"`
	Duration float64   `json:"duration_s"`
	Seed     uint64    `json:"seed"`
	Clients  int       `json:"clients"`
	Keys     int       `json:"keys"`
	// ServeFlags are extra flags the members were given (a test-only
	// switch, say).
	ServeFlags []string `json:"serve_flags,omitempty"`

	Ops         OpCounts     `json:"ops"`
	FaultEvents []FaultEvent `json:"fault_events"`
	// Healthy says every member answered a linearizable read and named
	// the same leader after the faults; HealthError says why not.
	Healthy     bool       `json:"healthy"`
	HealthError string     `json:"health_error,omitempty"`
	Acked       AckedCheck `json:"acked"`

	Verdict      string  `json:"verdict"`
	CheckSeconds float64 `json:"check_s"`
	// Dir is the run directory; History and Visualization name its
	// files (the visualization only after a violation).
	Dir           string `json:"-"`
	History       string `json:"history"`
	Visualization string `json:"visualization,omitempty"`
}

// FaultErrors counts the faults that failed to be injected or healed, or
// after which the cluster did not recover.
func (r *Report) FaultErrors() int {
	n := 0
	for _, e := range r.FaultEvents {
		if e.Error != "" {
			n++
		}
	}
	return n
}

// Passed reports whether the history is linearizable, every fault was
// injected and healed, every member recovered, and every acknowledged
// write is there.
func (r *Report) Passed() bool {
	return r.Verdict == VerdictLinearizable && r.Healthy && r.Acked.OK() && r.FaultErrors() == 0
}

// Print writes the report for a terminal.
func (r *Report) Print(w io.Writer) {
	backend := r.Backend
	if backend == "" {
		backend = "its own WAL"
	}
	fmt.Fprintf(w, "linearizability check: %s, %d members, %s, faults %s, %.0fs, seed %d, %d clients on %d keys\n",
		r.Target, r.Nodes, backend, strings.Join(r.Faults, ","), r.Duration, r.Seed, r.Clients, r.Keys)
	if len(r.ServeFlags) > 0 {
		fmt.Fprintf(w, "member flags: %s\n", strings.Join(r.ServeFlags, " "))
	}
	fmt.Fprintf(w, "ops: %s\n", r.Ops)
	fmt.Fprintf(w, "faults: %d injected", len(r.FaultEvents))
	if n := r.FaultErrors(); n > 0 {
		fmt.Fprintf(w, ", %d FAILED", n)
	}
	fmt.Fprintln(w)
	for _, e := range r.FaultEvents {
		fmt.Fprintln(w, e.line())
	}
	if r.Healthy {
		fmt.Fprintln(w, "members: all healthy after the faults")
	} else {
		fmt.Fprintf(w, "members: NOT HEALTHY after the faults: %s\n", r.HealthError)
	}
	fmt.Fprintf(w, "acknowledged writes: %s\n", r.Acked)
	fmt.Fprintf(w, "verdict: %s (checked in %.1fs)\n", r.Verdict, r.CheckSeconds)
	fmt.Fprintf(w, "history: %s\n", r.History)
	if r.Visualization != "" {
		fmt.Fprintf(w, "visualization: %s\n", r.Visualization)
	}
}
