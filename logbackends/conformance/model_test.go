package conformance

import (
	"strings"
	"testing"
)

// TestCrashPointMatches: the check accepts the acknowledged state and
// every later prefix of the records written, and names what was lost in
// anything else: a rolled-back term or vote, a lost commit, an entry of
// the wrong term.
func TestCrashPointMatches(t *testing.T) {
	floor := newLogState()
	floor.applyOp(op{kind: opSave, hasHS: true, term: 2, vote: 1})
	floor.applyOp(op{kind: opSave, hasHS: true, term: 2, vote: 1, commit: 3, lo: 1, hi: 5, entTerm: 2})
	p := &crashPoint{floor: floor, pending: []op{
		// A new leader overwrites the uncommitted 4..5 with 4..6 of term 3.
		{kind: opSave, hasHS: true, term: 3, vote: 2, commit: 3, lo: 4, hi: 6, entTerm: 3, mustSync: true},
	}}
	state := func(term, vote, commit uint64, terms ...uint64) observed {
		return observed{logState: logState{hasHS: true, term: term, vote: vote, commit: commit, first: 1, terms: terms}}
	}
	tests := []struct {
		name string
		o    observed
		want string // "" for a match, else what the error must say
	}{
		{"the acknowledged state", state(2, 1, 3, 2, 2, 2, 2, 2), ""},
		{"the overwrite's first entry", state(2, 1, 3, 2, 2, 2, 3), ""},
		{"the overwrite's entries, not its HardState", state(2, 1, 3, 2, 2, 2, 3, 3, 3), ""},
		{"the whole overwrite", state(3, 2, 3, 2, 2, 2, 3, 3, 3), ""},
		{"a vote rolled back", state(2, 0, 3, 2, 2, 2, 2, 2), "vote 0 in term 2, but vote 1 was acknowledged"},
		{"a term rolled back", state(1, 1, 3, 2, 2, 2, 2, 2), "term 1, but term 2 was acknowledged"},
		{"the commit rolled back", state(2, 1, 1, 2, 2, 2, 2, 2), "commit 1, but commit 3 was acknowledged"},
		{"a committed entry of another term", state(2, 1, 3, 2, 1, 2, 2, 2), "committed entry 2 has term 1, but term 2"},
		{"an acknowledged entry lost", state(2, 1, 3, 2, 2, 2, 2), "no prefix of the writes"},
		{"an entry's data changed", observed{logState: state(2, 1, 3, 2, 2, 2, 2, 2).logState, dataErr: "entry 3 holds index 3 and data not written for term 2"}, "data not written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.matches(tt.o)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("a state the writes can leave is refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("a state that lost %s is accepted", tt.name)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
