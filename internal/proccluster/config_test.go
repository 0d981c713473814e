package proccluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Command: []string{"etcd"}, Size: 3, Dir: "/tmp/x"}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // named in the error; "" when valid
	}{
		{name: "valid", edit: func(c *Config) {}},
		{name: "no command", edit: func(c *Config) { c.Command = nil }, field: "command"},
		{name: "empty binary", edit: func(c *Config) { c.Command = []string{""} }, field: "command"},
		{name: "no members", edit: func(c *Config) { c.Size = 0 }, field: "size"},
		{name: "too many members", edit: func(c *Config) { c.Size = maxSize + 1 }, field: "size"},
		{name: "no dir", edit: func(c *Config) { c.Dir = "" }, field: "dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate: %v, want ErrConfig naming %s", err, tc.field)
			}
			if _, err := Start(t.Context(), c); !errors.Is(err, ErrConfig) {
				t.Fatalf("Start: %v, want ErrConfig", err)
			}
		})
	}
}

// TestArgs checks what a member is told without starting one: the others
// are reached at their advertised (fronted) peer URLs, and the caller's
// flags come last, the member's own after the cluster's.
func TestArgs(t *testing.T) {
	c := &Cluster{
		cfg: Config{Command: []string{"adrbench", "serve"}, Flags: []string{"--log-backend=batched"},
			MemberFlags: func(i int, name string) []string { return []string{fmt.Sprintf("--x=%d-%s", i, name)} }},
		token: "tok",
		members: []*Member{
			{name: "m0", dataDir: "/d/m0", clientURL: "http://127.0.0.1:1", peerURL: "http://127.0.0.1:2", advertisePeerURL: "http://127.0.0.1:3"},
			{name: "m1", dataDir: "/d/m1", clientURL: "http://127.0.0.1:4", peerURL: "http://127.0.0.1:5", advertisePeerURL: "http://127.0.0.1:6"},
		},
	}
	want := []string{
		"--name=m1",
		"--data-dir=/d/m1",
		"--listen-client-urls=http://127.0.0.1:4",
		"--advertise-client-urls=http://127.0.0.1:4",
		"--listen-peer-urls=http://127.0.0.1:5",
		"--initial-advertise-peer-urls=http://127.0.0.1:6",
		"--initial-cluster=m0=http://127.0.0.1:3,m1=http://127.0.0.1:6",
		"--initial-cluster-state=existing",
		"--initial-cluster-token=tok",
		"--log-backend=batched",
		"--x=1-m1",
	}
	if got := c.args(1, "existing"); !slices.Equal(got, want) {
		t.Errorf("args\n got %q\nwant %q", got, want)
	}
}

func TestBadMemberIndex(t *testing.T) {
	c := &Cluster{members: []*Member{{name: "m0"}}}
	ctx := t.Context()
	for _, i := range []int{-1, 1} {
		for name, err := range map[string]error{
			"Kill":        c.Kill(ctx, i),
			"Stop":        c.Stop(ctx, i),
			"Restart":     c.Restart(i),
			"Pause":       c.Pause(i),
			"Resume":      c.Resume(i),
			"WaitServing": c.WaitServing(ctx, i),
		} {
			if !errors.Is(err, ErrNoMember) {
				t.Errorf("%s(%d): %v, want ErrNoMember", name, i, err)
			}
		}
	}
	if err := c.Pause(0); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Pause of a member never started: %v, want ErrNotRunning", err)
	}
	if err := c.Kill(ctx, 0); err != nil {
		t.Errorf("Kill of a member never started: %v, want nil", err)
	}
	if _, err := c.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Errorf("Leader with no member running: %v, want ErrNoLeader", err)
	}
	if err := c.WaitHealthy(ctx); !errors.Is(err, ErrNotHealthy) {
		t.Errorf("WaitHealthy with no member running: %v, want ErrNotHealthy", err)
	}
}
