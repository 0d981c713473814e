package qualify

import (
	"fmt"
	"io"
	"strings"
)

// Table prints checks as rows while a qualification runs: fixed columns,
// so a row can be printed the moment its check completes, with what was
// found and why on an indented line below.
type Table struct {
	w       io.Writer
	started bool
}

// NewTable prints to w.
func NewTable(w io.Writer) *Table { return &Table{w: w} }

const tableFormat = "%-28s %-14s %-16s %-7s %s\n"

// Row prints one check (and the header before the first).
func (t *Table) Row(c Check) {
	if !t.started {
		fmt.Fprintf(t.w, tableFormat, "CHECK", "VALUE", "THRESHOLD", "VERDICT", "SOURCE OF THE THRESHOLD")
		t.started = true
	}
	r := rowOf(c)
	name := c.Name
	if c.Peer != "" {
		name += " " + c.Peer
	}
	value := r.Value
	if c.Emulated {
		value += " (emulated)"
	}
	verdict := strings.ToUpper(string(c.Verdict))
	if c.Verdict == Pass {
		verdict = "pass"
	}
	fmt.Fprintf(t.w, tableFormat, name, value, r.Threshold, verdict, c.Source)
	var more []string
	if c.Reason != "" {
		more = append(more, c.Reason)
	}
	if c.Text != "" && c.Verdict != Skip {
		more = append(more, c.Text)
	}
	if len(more) > 0 {
		fmt.Fprintf(t.w, "    %s\n", strings.Join(more, "; "))
	}
}

// PrintVerdict prints the overall verdict and the checks behind it.
func PrintVerdict(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\nverdict: %s (profile %s; %s)\n", strings.ToUpper(string(rep.Verdict)), rep.Profile, summary(rep.Checks))
	for _, c := range rep.Failing() {
		what := c.Reason
		if what == "" {
			what = formatValue(c.Value, c.Unit)
		}
		name := c.Name
		if c.Peer != "" {
			name += " " + c.Peer
		}
		fmt.Fprintf(w, "  %s %s: %s\n", c.Verdict, name, what)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
