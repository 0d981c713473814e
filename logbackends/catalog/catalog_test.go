package catalog

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/logbackends/async"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/fsync"
	"github.com/adrbench/adrbench/logbackends/memory"
)

func TestRegistryHasEveryBackend(t *testing.T) {
	r := DefaultConfigs().Registry()
	tests := []struct {
		name    string
		durable bool
		saved   string
	}{
		{adrlog.Name, true, adrlog.Saved},
		{async.Name, false, async.Saved},
		{batched.Name, true, batched.Saved},
		{fsync.Name, true, fsync.Saved},
		{memory.Name, false, memory.Saved},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.name)
		t.Run(tt.name, func(t *testing.T) {
			e, err := r.Lookup(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if e.Durable != tt.durable || e.Saved != tt.saved || e.Saved == "" {
				t.Fatalf("entry says durable %v, saved %q; want %v, %q", e.Durable, e.Saved, tt.durable, tt.saved)
			}
		})
	}
	if got := r.Names(); !slices.Equal(got, names) {
		t.Fatalf("Names = %v, want %v", got, names)
	}
}

// TestFlagsReachTheBackends parses flags of several backends and checks
// each opens with its own: a setting reaches the backend it names.
func TestFlagsReachTheBackends(t *testing.T) {
	c := DefaultConfigs()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c.AddFlags(fs)
	err := fs.Parse([]string{"--batched-group-commit-window=1ms", "--async-sync-interval=2s", "--adr-region-size=1048576", "--fsync-segment-size=8192"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfigs()
	want.Batched.GroupCommitWindow = time.Millisecond
	want.Async.SyncInterval = 2 * time.Second
	want.ADR.Region.Size = 1 << 20
	want.Fsync.SegmentSize = 8192
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("configs\n got %+v\nwant %+v", c, want)
	}
	b, err := c.Registry().Open(batched.Name, logbackends.Env{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.(logbackends.ConcurrentSaver); !ok {
		t.Fatal("batched opened from the registry ignores --batched-group-commit-window")
	}
}

func TestValidateNamesTheBadFlag(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Configs)
		flag string
	}{
		{"fsync", func(c *Configs) { c.Fsync.SegmentSize = 0 }, "--fsync-segment-size"},
		{"batched", func(c *Configs) { c.Batched.GroupCommitWindow = -time.Second }, "--batched-group-commit-window"},
		{"async", func(c *Configs) { c.Async.SyncInterval = 0 }, "--async-sync-interval"},
		{"adr", func(c *Configs) { c.ADR.Region.Size = 1 }, "--adr-region-kind, --adr-region-path, --adr-region-size, --adr-media-latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfigs()
			tt.edit(&c)
			err := c.Validate()
			if !errors.Is(err, logbackends.ErrBadConfig) || !strings.HasPrefix(err.Error(), tt.flag+":") {
				t.Fatalf("Validate = %v, want ErrBadConfig naming %s", err, tt.flag)
			}
		})
	}
	if err := DefaultConfigs().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

func TestConfigsYAMLRoundTrip(t *testing.T) {
	c := DefaultConfigs()
	c.Batched.GroupCommitWindow = 100 * time.Microsecond
	c.ADR.Region.Path = "/dev/shm/custom.pmem"
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Configs
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip\n got %+v\nwant %+v\nyaml:\n%s", back, c, out)
	}
	if !strings.Contains(string(out), "group_commit_window: 100µs") {
		t.Fatalf("durations are not written as durations:\n%s", out)
	}
}
