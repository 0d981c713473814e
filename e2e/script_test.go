package e2e

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		bad  bool
	}{
		{name: "plain", in: "put foo bar", want: []string{"put", "foo", "bar"}},
		{name: "spaces and tabs", in: "  get\t foo  ", want: []string{"get", "foo"}},
		{name: "double quotes", in: `put k "a b"`, want: []string{"put", "k", "a b"}},
		{name: "single quotes keep backslashes", in: `put k 'a\ b'`, want: []string{"put", "k", `a\ b`}},
		{name: "escaped space", in: `put k a\ b`, want: []string{"put", "k", "a b"}},
		{name: "empty quoted word", in: `put k ""`, want: []string{"put", "k", ""}},
		{name: "unterminated", in: `put k "a`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitWords(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("splitWords(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseScript(t *testing.T) {
	src := "# c\n\nput a 1\n@sort member list\n@set=L lease grant 60\n@lines=3 watch --rev=2 a\n" +
		"@bg=w watch a\n@wait=w @lines=3\ntxn <<EOF\nvalue(\"a\") = \"1\"\n\nput a 2\n\nEOF\n"
	s, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Text: "# c", Comment: true},
		{Text: "put a 1", Args: []string{"put", "a", "1"}},
		{Text: "@sort member list", Args: []string{"member", "list"}, Sort: true},
		{Text: "@set=L lease grant 60", Args: []string{"lease", "grant", "60"}, Set: "L"},
		{Text: "@lines=3 watch --rev=2 a", Args: []string{"watch", "--rev=2", "a"}, Lines: 3},
		{Text: "@bg=w watch a", Args: []string{"watch", "a"}, Bg: "w"},
		{Text: "@wait=w @lines=3", Wait: "w", Lines: 3},
		{
			Text:  "txn <<EOF\nvalue(\"a\") = \"1\"\n\nput a 2\n\nEOF",
			Args:  []string{"txn"},
			Stdin: "value(\"a\") = \"1\"\n\nput a 2\n\n",
		},
	}
	if !reflect.DeepEqual(s.Steps, want) {
		t.Fatalf("ParseScript:\n got %+v\nwant %+v", s.Steps, want)
	}

	bad := []struct{ name, src string }{
		{"unknown directive", "@nope get a"},
		{"wait without lines", "@wait=w"},
		{"wait with a command", "@wait=w @lines=1 get a"},
		{"directive alone", "@sort"},
		{"bad count", "@lines=x watch a"},
		{"open here-document", "txn <<EOF\nput a 1\n"},
		{"open quote", `put a "1`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseScript(tt.src); !errors.Is(err, ErrScript) {
				t.Fatalf("ParseScript(%q) = %v, want ErrScript", tt.src, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"endpoint status",
			"127.0.0.1:41233, 8e9e05c52164694d, 3.4.23, 20 kB, true, false, 2, 12, 12, ",
			"HOST:PORT, ID, VERSION, SIZE, true, false, TERM, INDEX, APPLIED, "},
		{"member list with a short id",
			"e05c52164694d, started, m0, http://127.0.0.1:2380, http://127.0.0.1:2379, false",
			"ID, started, m0, http://HOST:PORT, http://HOST:PORT, false"},
		{"json header",
			`{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":7,"raft_term":2}}`,
			`{"header":{"cluster_id":N,"member_id":N,"revision":7,"raft_term":N}}`},
		{"lease", "lease 694d7b2b7b1d4a0c granted with TTL(60s), remaining(59s)", "lease ID granted with TTL(60s), remaining(Ns)"},
		{"health", "127.0.0.1:2379 is healthy: successfully committed proposal: took = 2.1ms", "HOST:PORT is healthy: successfully committed proposal: took = DURATION"},
		{"lease keys in map order",
			"lease 694d7b2b7b1d4a0c granted with TTL(60s), remaining(59s), attached keys([lk/2 lk/10 lk/1])",
			"lease ID granted with TTL(60s), remaining(Ns), attached keys([lk/1 lk/10 lk/2])"},
		{"values and revisions stay", "foo\nbaz2\nrevision 17", "foo\nbaz2\nrevision 17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Fatalf("Normalize(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLineDiff(t *testing.T) {
	d := lineDiff("a\nb\nc\n", "a\nB\nc\n")
	if !strings.Contains(d, "- b\n") || !strings.Contains(d, "+ B\n") || !strings.Contains(d, "  a\n") {
		t.Fatalf("lineDiff = %q", d)
	}
	if d := lineDiff("same\n", "same\n"); d != "" {
		t.Fatalf("lineDiff of equal texts = %q, want empty", d)
	}
}
