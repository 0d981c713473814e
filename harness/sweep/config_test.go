package sweep

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse("s.yaml", []byte("name: tiny\nnodes: [1, 3]\nduration: 2s\nworkload:\n  val_size: 128\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	switch {
	case c.Name != "tiny" || len(c.Nodes) != 2 || c.Nodes[1] != 3:
		t.Fatalf("name/nodes not read: %+v", c)
	case c.Duration != 2*time.Second:
		t.Fatalf("duration %v", c.Duration)
	case c.Workload.ValSize != 128 || c.Workload.KeySize != d.Workload.KeySize || c.Workload.Name != d.Workload.Name:
		t.Fatalf("workload not merged over defaults: %+v", c.Workload)
	case c.Backends[0] != d.Backends[0] || c.Cluster.ElectionTimeout != d.Cluster.ElectionTimeout:
		t.Fatalf("defaults lost: %+v", c)
	}
	// The recorded YAML reads back to the same config.
	back, err := Parse("again", []byte(c.YAML()))
	if err != nil {
		t.Fatalf("YAML round trip: %v\n%s", err, c.YAML())
	}
	if back.YAML() != c.YAML() {
		t.Fatalf("round trip differs:\n%s\n---\n%s", c.YAML(), back.YAML())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown top-level field", "name: x\nnodez: [1]\n", []string{"s.yaml", "line 2", "nodez"}},
		{"unknown nested field", "name: x\nworkload:\n  value_size: 3\n", []string{"line 3", "value_size"}},
		{"unknown clients field", "clients:\n  - clients: 4\n    con: 2\n", []string{"line 3", "con"}},
		{"bad node count", "nodes: [1, 3, 0]\n", []string{"s.yaml:1", "nodes[2]"}},
		{"conns over clients", "clients:\n  - {clients: 4, conns: 2}\n  - {clients: 4, conns: 8}\n", []string{"s.yaml:3", "clients[1].conns"}},
		{"unknown disk profile", "disk_profiles:\n  - native\n  - floppy\n", []string{"s.yaml:3", "disk_profiles[1]", "floppy"}},
		{"unknown target", "targets: [inproc, cloud]\n", []string{"targets[1]", "cloud"}},
		{"negative delay", "net_delays: [-1ms]\n", []string{"net_delays[0]"}},
		{"no length", "total: 0\n", []string{"duration", "neither total nor duration"}},
		{"bad workload", "workload:\n  key_size: 0\n", []string{"s.yaml:2", "workload", "key_size"}},
		{"bad duration text", "duration: soon\n", []string{"soon"}},
		{"bad rate", "open_loop:\n  rates: [100, 0]\n  clients: 4\n  conns: 1\n", []string{"s.yaml:2", "open_loop.rates[1]"}},
		{"open loop nodes not in matrix", "nodes: [1]\nopen_loop:\n  rates: [100]\n  clients: 4\n  conns: 1\n  nodes: [3]\n", []string{"open_loop.nodes[0]"}},
		{"open loop disk not in matrix", "open_loop:\n  rates: [100]\n  clients: 4\n  conns: 1\n  disk_profiles: [hdd]\n", []string{"s.yaml:5", "open_loop.disk_profiles[0]"}},
		{"open loop without rates", "open_loop:\n  clients: 4\n", []string{"open_loop.rates"}},
		{"bad name", "name: a/b\n", []string{"s.yaml:1", "name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tt.yaml))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestQuick(t *testing.T) {
	c := DefaultConfig()
	c.Total, c.Duration, c.Warmup = 100000, time.Minute, 10*time.Second
	c.OpenLoop.Duration = time.Minute
	q := c.Quick()
	if q.Total != 500 || q.Duration != time.Second || q.Warmup != 200*time.Millisecond || q.OpenLoop.Duration != time.Second {
		t.Fatalf("Quick() = total %d duration %v warmup %v open %v", q.Total, q.Duration, q.Warmup, q.OpenLoop.Duration)
	}
	small := DefaultConfig()
	small.Total = 50
	if got := small.Quick().Total; got != 50 {
		t.Fatalf("Quick grew total 50 to %d", got)
	}
}

// TestParseTotalOrDuration checks that a file setting only one bound of a
// point gets that bound alone, not also the default of the other.
func TestParseTotalOrDuration(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		total    int64
		duration time.Duration
	}{
		{"duration only", "duration: 10s\n", 0, 10 * time.Second},
		{"total only", "total: 500\n", 500, 0},
		{"both", "total: 500\nduration: 10s\n", 500, 10 * time.Second},
		{"neither", "name: x\n", DefaultConfig().Total, DefaultConfig().Duration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("s.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Total != tt.total || c.Duration != tt.duration {
				t.Fatalf("total %d duration %v, want %d and %v", c.Total, c.Duration, tt.total, tt.duration)
			}
		})
	}
}
